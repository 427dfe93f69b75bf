"""``qa serve`` in a child process on a free loopback port.

For scripts that need the real service rather than the library: an evaluation run over HTTP, a
benchmark, the end-to-end tests. The child runs the very command a person types; this only picks
the port, waits until ``/healthz`` answers and stops it again (SIGTERM, so that gunicorn stops its
workers, then SIGKILL if it hangs).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServeError(RuntimeError):
    """The server exited, or did not become healthy in time; the message ends with its log."""


class ServeProcess:
    """``qa [--index-dir DIR] serve`` on 127.0.0.1:``port``; a context manager that stops it.

    ``env`` is laid over this process's environment; a ``None`` value removes that variable.
    The server's output goes to ``log_path`` (discarded when there is none). ``port``: a given
    one instead of a free one (a server started again where another one was)."""

    def __init__(
        self,
        *,
        index_dir: str | Path | None = None,
        workers: int = 1,
        threads: int | None = None,
        env: Mapping[str, str | None] | None = None,
        cwd: str | Path | None = None,
        log_path: str | Path | None = None,
        port: int | None = None,
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(log_path) if log_path is not None else None
        cmd = [sys.executable, "-m", "qa.cli"]
        if index_dir is not None:
            cmd += ["--index-dir", str(index_dir)]
        cmd += ["serve", "--port", str(self.port), "--workers", str(workers)]
        if threads:
            cmd += ["--threads", str(threads)]
        child_env = dict(os.environ)
        for key, value in (env or {}).items():
            if value is None:
                child_env.pop(key, None)
            else:
                child_env[key] = value
        out: IO[bytes] | int = (
            self.log_path.open("wb") if self.log_path is not None else subprocess.DEVNULL
        )
        try:
            self.proc = subprocess.Popen(
                cmd, cwd=cwd, env=child_env, stdout=out, stderr=subprocess.STDOUT
            )
        finally:
            if not isinstance(out, int):
                out.close()  # the child holds its own descriptor

    def log(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def health(self) -> dict[str, Any] | None:
        """``/healthz``'s body, or None while the server does not answer it with 200."""
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=5) as r:
                if r.status == 200:
                    body: dict[str, Any] = json.loads(r.read())
                    return body
        except (OSError, ValueError):
            pass
        return None

    def wait_until_healthy(
        self, timeout: float = 300, ready: Callable[[], bool] | None = None
    ) -> dict[str, Any]:
        """Poll until ``/healthz`` answers (and ``ready()``, when given, holds); its body.
        Raises ``ServeError``, after stopping the server, if it exits or the time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServeError(f"qa serve exited with {self.proc.returncode}:\n{self.log()}")
            health = self.health()
            if health is not None and (ready is None or ready()):
                return health
            time.sleep(0.5)
        self.stop()
        raise ServeError(f"qa serve not healthy after {timeout:.0f} s:\n{self.log()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def __enter__(self) -> ServeProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
