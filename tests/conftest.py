"""Fixtures for every test: nothing may touch the real ledger, the home folder or the network."""

from __future__ import annotations

import shutil
import socket
import tempfile
from pathlib import Path

import pytest
from hypothesis.configuration import set_hypothesis_home_dir

from minitrain.ledger import jsonl
from tests.pgserver import NoPostgres, PgServer

REPO = Path(__file__).resolve().parent.parent
REAL_LEDGER = REPO / "experiments" / "35-cloud-budget" / "spend.jsonl"
REAL_MANIFEST = REPO / "experiments" / "35-cloud-budget" / "manifest.json"


@pytest.fixture(autouse=True)
def _no_real_state(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Make touching the real ledger, the home folder or the network an error."""
    real_init = jsonl.JsonlLedger.__init__

    def guarded_init(self: jsonl.JsonlLedger, path: Path) -> None:
        if Path(path).resolve() == REAL_LEDGER.resolve():
            raise AssertionError(f"a test tried to use the real ledger {REAL_LEDGER}")
        real_init(self, path)

    monkeypatch.setattr(jsonl.JsonlLedger, "__init__", guarded_init)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("LYNX_CLOUD_BUDGET_USD", raising=False)
    monkeypatch.chdir(tmp_path)  # relative default paths land in this test's folder

    def no_network(self: socket.socket, address: object) -> None:
        host = address[0] if isinstance(address, tuple) else address
        local = self.family == socket.AF_UNIX or host in ("127.0.0.1", "::1", "localhost")
        if not local:
            raise AssertionError(f"a test tried to reach the network: {address!r}")
        return real_connect(self, address)  # type: ignore[arg-type]

    real_connect = socket.socket.connect
    monkeypatch.setattr(socket.socket, "connect", no_network)


@pytest.fixture
def file_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """For tests about the bytes on disk: the guard must really write, whatever the env says."""
    monkeypatch.delenv("BUDGET_GUARD_TEST_MODE", raising=False)


def pytest_configure(config: pytest.Config) -> None:
    """Hypothesis keeps what it learns (failing examples, constants read from the source) in
    `.hypothesis/` under the current folder, from the moment the test modules are imported:
    in a temporary folder of this run instead, as everything the suite writes. A failing
    property prints the example that reproduces it."""
    home = tempfile.mkdtemp(prefix="minitrain-hypothesis-")
    config.add_cleanup(lambda: shutil.rmtree(home, ignore_errors=True))
    set_hypothesis_home_dir(home)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--stress", action="store_true", help="run the long fault runs too")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--stress"):
        return
    skip = pytest.mark.skip(reason="a long fault run; pass --stress")
    for item in items:
        if "stress" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _real_ledger_untouched() -> object:
    """Belt and braces: the real ledger's bytes are the same after the whole run."""
    before = REAL_LEDGER.read_bytes() if REAL_LEDGER.exists() else None
    yield
    after = REAL_LEDGER.read_bytes() if REAL_LEDGER.exists() else None
    assert before == after, "the test run changed the real ledger"


@pytest.fixture
def lab(tmp_path: Path) -> Path:
    """A repository root (the working directory) with the real manifest and checklists and an
    empty ledger."""
    folder = tmp_path / "experiments" / "35-cloud-budget"
    folder.mkdir(parents=True)
    shutil.copy(REAL_MANIFEST, folder / "manifest.json")
    shutil.copytree(REPO / "checklists", tmp_path / "checklists")
    return tmp_path


@pytest.fixture(scope="session")
def pg_server() -> object:
    """The cluster lives in its own temporary folder, not under pytest's tmp_path: the server
    runs as the postgres user, who may not enter root's 0700 pytest folder. Removed at the end."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="minitrain-pg-"))
    try:
        try:
            server = PgServer(folder)
        except NoPostgres as exc:
            pytest.skip(f"{exc}; .ci/run installs it")
        yield server
        server.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: PgServer, request: pytest.FixtureRequest) -> str:
    """A fresh, empty database with the ledger schema, for one test."""
    import re

    from minitrain.ledger.postgres import PostgresLedger

    name = "t_" + re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:50]
    url = pg_server.database(name)
    PostgresLedger(url).init()
    return url
