"""Nothing leaks: vendor credentials never reach a record or the ledger."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minitrain._secrets import redact, redact_data
from minitrain.cli.budget import main as budget
from minitrain.preflight.session import Options, run_checklist
from tests.minitrain.preflight.conftest import FakePerson

KEY = "rpa_ABCDEF0123456789ABCDEF0123"
RUNPOD_ENV_KEY = "rpa_ENVKEY0123456789ABCDEF"


def test_redact_env_secrets_and_key_shapes() -> None:
    env = {
        "RUNPOD_API_KEY": "s3cr3t-value",
        "VAST_TOKEN": "tok-9876543210",
        "HOME": "/root",
        "PIN": "1",
        "DB_PASSWORD": "short",
    }
    text = f"key s3cr3t-value, token tok-9876543210, home /root, a short password, pasted {KEY}"
    assert redact(text, env) == (
        "key [redacted $RUNPOD_API_KEY], token [redacted $VAST_TOKEN], home /root,"
        " a short password, pasted [redacted API key]"
    )


@pytest.mark.usefixtures("file_mode")
def test_a_record_never_holds_a_credential(lab: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNPOD_API_KEY", "s3cr3t-value")
    checklist = lab / "checklists" / "leak.yaml"
    checklist.write_text(
        f"""id: leak
version: 1
title: A vendor CLI that prints its key
steps:
  - id: pods
    kind: sensed
    sense: command
    command: [{sys.executable!r}, -c, "import os; print('[] key=' + os.environ['RUNPOD_API_KEY'])"]
    say: No pods run.
  - id: termination-plan
    kind: value
    type: text
    critical: true
    say: How will it end?
  - id: gate
    kind: gate
    action: authorize
    say: Go?
"""
    )
    person = FakePerson(
        {"termination-plan": f"runpodctl --apiKey {KEY} pod delete x", "gate": "authorize"}
    )
    outcome = run_checklist(
        Options("lab02-tp-spinup", "1.00", checklist=checklist), terminal=person
    )
    text = outcome.record.read_text()
    assert "s3cr3t-value" not in text
    assert KEY not in text
    assert "[redacted $RUNPOD_API_KEY]" in json.loads(text)["steps"][0]["answer"]
    ledger = (lab / "experiments/35-cloud-budget/spend.jsonl").read_text()
    assert "s3cr3t-value" not in ledger
    assert KEY not in ledger


# --- the reproductions --------------------------------------------------------------


@pytest.mark.usefixtures("file_mode")
@pytest.mark.parametrize(
    ("label", "env", "says"),
    [
        (f"x-{RUNPOD_ENV_KEY}", {"RUNPOD_API_KEY": RUNPOD_ENV_KEY}, "the value of $RUNPOD_API_KEY"),
        (f"x-{KEY}", {}, "a RunPod API key (rpa_...)"),
        ("x-postgresql://admin:Hunter2secret@db/x", {}, "a URL with a password"),
    ],
    ids=["env-value", "key-shape", "url"],
)
def test_a_label_holding_a_secret_is_refused_without_echoing_it(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    label: str,
    env: dict[str, str],
    says: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    ledger = tmp_path / "spend.jsonl"
    assert budget(["authorize", label, "0.01", "--ledger", str(ledger), "--ceiling", "5"]) == 2
    err = capsys.readouterr().err
    assert f"the operation label contains {says}; a label is written to the ledger" in err
    assert label[2:] not in err
    assert not ledger.exists()


@pytest.mark.parametrize(
    "argv",
    [
        "vastai create instance 123 --api-key {k} --raw",
        "vastai create instance 123 --api-key={k}",
        "runpodctl config --apiKey {k}",
        "tool --token {k} --password {k}",
    ],
)
def test_credential_flag_values_are_redacted(argv: str) -> None:
    key = "0f3a9c2b7d5e4f1a8b6c9d0e2f4a6b8c"  # a vast.ai key: hex, kept in a file, not the env
    text = redact(argv.format(k=key), {})
    assert key not in text
    assert "[redacted]" in text


def test_redaction_runs_before_json_encoding() -> None:
    """A key with a backslash or quote is escaped by JSON; redacting the encoded text missed it."""
    key = 'ab\\cd"ef0123456789'
    data = {"output": f"key={key}", "nested": [f"again {key}"]}
    encoded = json.dumps(redact_data(data, {"VAST_API_KEY": key}))
    assert json.dumps(key)[1:-1] not in encoded
    assert key not in encoded
    assert "[redacted $VAST_API_KEY]" in encoded


@pytest.mark.usefixtures("file_mode")  # test mode keeps the ledger in memory, whatever the URL
def test_a_database_url_never_shows_its_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LYNX_LEDGER_URL", "postgresql+psycopg://admin:Hunter2secret@db:5432/x")
    assert budget(["status", "--ceiling", "5"]) == 2
    err = capsys.readouterr().err
    assert "Hunter2secret" not in err
    assert "postgresql+psycopg://admin:[redacted]@db:5432/x" in err


@pytest.mark.usefixtures("file_mode")
def test_a_launch_record_never_holds_a_credential_flag_s_value(
    lab: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's reproduction: `vastai create instance ... --api-key KEY` kept the key in the
    launch record's command and output (vastai keeps its key in a file, not the environment)."""
    from tests.minitrain.preflight.conftest import CI_ANSWERS, FakePerson
    from tests.minitrain.test_launch import FAKE_BIN

    state = tmp_path / "cloud.json"
    state.write_text(json.dumps({"runpod": []}))
    monkeypatch.setenv("PATH", f"{FAKE_BIN}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_VENDOR_STATE", str(state))
    run_checklist(Options("lab02-tp-spinup", "3.00"), terminal=FakePerson(CI_ANSWERS))
    vast_key = "0f3a9c2b7d5e4f1a8b6c9d0e2f4a6b8c"
    echo = "import sys; print('create with', ' '.join(sys.argv[1:])); sys.exit(1)"
    launch = ["launch", "--label", "lab02-tp-spinup", "--estimate", "3.00", "--"]
    budget([*launch, sys.executable, "-c", echo, "--api-key", vast_key])
    [record] = (lab / "experiments/35-cloud-budget/preflight").glob("*-launch.json")
    text = record.read_text()
    assert vast_key not in text
    assert "--api-key [redacted]" in json.loads(text)["command"]


def test_a_long_lived_guard_refuses_a_credential_set_after_its_first_label(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The environment is read on every label check (cheaply: one search over all the names),
    so a credential set while a writer runs is refused as well, and nothing written."""
    from minitrain import BudgetGuard, InputError

    ledger = tmp_path / "spend.jsonl"
    guard = BudgetGuard(5, ledger)
    guard.authorize("lab02-first", "0.01")
    monkeypatch.setenv("VAST_API_KEY", "0123456789abcdef0123")
    for label in ("run-0123456789abcdef0123", "x0123456789abcdef0123y"):
        with pytest.raises(InputError, match=r"contains the value of \$VAST_API_KEY"):
            guard.authorize(label, "0.01")
        with pytest.raises(InputError, match=r"contains the value of \$VAST_API_KEY"):
            guard.record_actual(label, "0.01")
    assert ledger.read_text().count("\n") == 1


@given(
    st.dictionaries(
        st.text(st.characters(blacklist_characters="\0"), min_size=1, max_size=12)
        | st.sampled_from(["API_KEY", "x_apikey", "Token", "MY_SECRET", "passwd", "ßpassword"]),
        st.text(max_size=20),
        max_size=12,
    )
)
def test_the_secret_names_found_in_one_search_are_those_a_search_per_name_finds(
    environ: dict[str, str],
) -> None:
    """The fast scan (all names joined, upper-cased) against its definition, for names in any
    script: the same variables, in the same order."""
    from minitrain import _secrets

    expected = [
        (name, value)
        for name, value in environ.items()
        if len(value) >= 8 and re.search(_secrets._SECRET_NAME, name, re.IGNORECASE)
    ]
    assert _secrets._secret_named(environ) == expected


# --- issue 21, "No secret in any message": one redaction of everything the process knows, on
# the way to every line of stdout and stderr ----------------------------------------------------

URL_ENV = "LYNX_LEDGER_URL"


@pytest.mark.usefixtures("file_mode")  # the URL is opened (test mode keeps the ledger in memory)
@pytest.mark.parametrize(
    ("url", "secrets", "shown"),
    [
        (
            "host=db user=lab password=hunter2 dbname=books",
            ["hunter2"],
            "host=db user=lab password=[redacted] dbname=books",
        ),
        ("host=db password='a b\\' c' user=lab", ["a b", "' c"], "password=[redacted] user=lab"),
        ("mysql://lab:pw@db", [":pw@"], "mysql://lab:[redacted]@db"),
        (
            "postgresql://lab:hun%zzter2SECRET@127.0.0.1:1/books",
            ["zzter2"],
            'invalid percent-encoded token: "[redacted password of $LYNX_LEDGER_URL]"',
        ),
        ("postgresql://lab:hunter2 SECRET@127.0.0.1:1/books", ["hunter2", "SECRET"], "[redacted"),
    ],
    ids=["dsn", "dsn-quoted", "mysql", "psycopg-percent", "psycopg-spaces"],
)
def test_a_ledger_url_s_password_never_reaches_a_message(
    url: str,
    secrets: list[str],
    shown: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The issue's reproductions: a DSN and a mysql:// URL were printed whole, and psycopg's own
    messages quote the password (`invalid percent-encoded token: "hun%zzter2SECRET"`,
    `unexpected spaces found in "hunter2 SECRET"`), with no URL around it to find it by."""
    monkeypatch.setenv(URL_ENV, url)
    code = budget(["status", "--ceiling", "5"])
    err = capsys.readouterr().err
    assert code in (2, 4), err
    assert shown in err
    for secret in secrets:
        assert secret not in err


@pytest.mark.parametrize(
    "argv",
    [
        ["authorize", "x", KEY],
        ["authorize", "x", "0.10", "--lab", KEY],
        ["record", "x", "0.10", "--op-id", KEY],
        ["status"],
    ],
    ids=["amount", "lab", "op-id", "ceiling-env"],
)
def test_a_key_typed_in_the_wrong_place_is_never_echoed(
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The issue's reproduction: a RunPod key typed as the amount, as --lab, as --op-id or as
    LYNX_CLOUD_BUDGET_USD came back in the error."""
    monkeypatch.setenv("LYNX_CLOUD_BUDGET_USD", KEY if argv == ["status"] else "5")
    assert budget([*argv, "--ledger", str(tmp_path / "spend.jsonl")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert KEY[4:12] not in err
    assert "(not shown: it holds a RunPod API key (rpa_...))" in err
    assert not (tmp_path / "spend.jsonl").exists()


def test_every_line_to_the_terminal_is_redacted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """stdout, a warning and the error line: all through the one redaction in the handler."""
    import warnings

    from minitrain.cli._handler import run
    from minitrain.errors import InputError

    monkeypatch.setenv("RUNPOD_API_KEY", "env-secret-0123")
    monkeypatch.setenv(URL_ENV, "postgresql://lab:hunter2@db/books")

    def command() -> int:
        print("vendor said: key env-secret-0123, dsn password=pw0, url mysql://u:p@h")
        print(f"pasted {KEY}; psycopg: unexpected spaces found in 'hunter2'")
        warnings.warn(f"the token env-secret-0123 and {KEY}", UserWarning, stacklevel=1)
        raise InputError("connecting with hunter2 failed")

    assert run("budget", command) == 2
    out, err = capsys.readouterr()
    for secret in ("env-secret-0123", "hunter2", "pw0", ":p@", KEY):
        assert secret not in out + err
    assert out == (
        "vendor said: key [redacted $RUNPOD_API_KEY], dsn password=[redacted]"  # its comma too
        " url mysql://u:[redacted]@h\n"
        "pasted [redacted API key]; psycopg: unexpected spaces found in"
        " '[redacted password of $LYNX_LEDGER_URL]'\n"
    )
    assert err == (
        "budget: error: connecting with [redacted password of $LYNX_LEDGER_URL] failed\n"
        "budget: warning: the token [redacted $RUNPOD_API_KEY] and [redacted API key]\n"
    )


def test_credentials_of_eight_characters_are_redacted_shorter_ones_not() -> None:
    env = {"DB_PASSWORD": "8chars!!", "PIN_TOKEN": "1234567"}
    assert redact("a 8chars!! and 1234567", env) == "a [redacted $DB_PASSWORD] and 1234567"


def test_a_short_known_password_is_redacted_as_a_word_only() -> None:
    env = {URL_ENV: "postgresql://lab:ab@db/x"}
    assert redact("ab, tab, 'ab'", env) == (
        "[redacted password of $LYNX_LEDGER_URL], tab, '[redacted password of $LYNX_LEDGER_URL]'"
    )


def test_a_manifest_s_ledger_url_password_is_known_too(
    lab: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from minitrain import _secrets

    monkeypatch.setattr(_secrets, "_REMEMBERED", [])  # what this process learns stays in it
    manifest = lab / "experiments/35-cloud-budget/manifest.json"
    data = json.loads(manifest.read_text())
    manifest.write_text(
        json.dumps({**data, "ledger_url": "postgresql://lab:s3cr3t%zz@127.0.0.1:1/x"})
    )
    assert budget(["status"]) in (2, 4)
    err = capsys.readouterr().err
    assert "s3cr3t" not in err


@given(st.text(alphabet="ab:/@ \\'=password-rp_A0", max_size=60))
def test_redaction_by_position_is_the_old_pattern_s_or_more(text: str) -> None:
    """The linear scan redacts at least what the old regular expression did (its oracle)."""
    old = re.sub(r"([A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*):[^\s]*@", r"\1:[redacted]@", text)
    new = redact(text, {})
    if old != text:
        assert new != text
    assert "://" not in text or new.count("[redacted]") >= old.count("[redacted]")


def test_a_help_placeholder_is_shown_and_a_key_in_capitals_is_not() -> None:
    """`budget watch --help` says `--api-key API_KEY`; a real key, even in capitals, is long."""
    from minitrain._secrets import redact

    assert redact("[--api-key API_KEY] [--url URL]") == "[--api-key API_KEY] [--url URL]"
    assert redact("--api-key ABCDEFGHIJKLMNOPQRS") == "--api-key [redacted]"
