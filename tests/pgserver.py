"""A throwaway PostgreSQL cluster on 127.0.0.1, for the tests and the benchmark."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path


class NoPostgres(Exception):
    """The server binaries are not installed."""


class PgServer:
    """A throwaway PostgreSQL cluster on 127.0.0.1, started for this test session only."""

    def __init__(self, folder: Path) -> None:
        import os

        installed = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
        found = shutil.which("initdb") or (str(installed[0]) if installed else None)
        if found is None:
            raise NoPostgres("PostgreSQL is not installed (apt-get install postgresql)")
        self.bin = Path(os.path.realpath(found)).parent
        self.data = folder / "data"
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # initdb refuses root: run the server as the postgres user
            import subprocess

            shutil.chown(folder, "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
            subprocess.run(
                [
                    *self.as_user,
                    str(self.bin / "initdb"),
                    "-D",
                    str(self.data),
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                ],
                check=True,
                capture_output=True,
            )
        else:
            import subprocess

            subprocess.run(
                [str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"],
                check=True,
                capture_output=True,
            )
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.folder = folder
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.start()

    def _ctl(self, *args: str) -> None:
        import subprocess

        subprocess.run(
            [*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", *args],
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        self._ctl(
            "-o",
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1",
            "-l",
            str(self.folder / "server.log"),
            "start",
        )

    def stop(self) -> None:
        self._ctl("-m", "fast", "stop")

    def database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url.rsplit("/", 1)[0] + f"/{name}"
