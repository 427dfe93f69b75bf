"""``qa healthcheck``: exit 0 when the ``qa serve`` running here answers ``/healthz``, else 1.

A container's health check runs apart from the server and cannot see its flags: reading
``QA_PORT`` misses ``qa serve --port 9000``. So the server records where it listens when it
starts (``record``: a small file in the temporary folder, named by its process id and removed
when it exits), and the check asks every server recorded there that is still alive.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import tempfile
import urllib.request
from pathlib import Path

from qa.settings import ServerSettings, Settings


def records_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"qa-serve-{os.getuid()}"


def local_url(host: str, port: int) -> str:
    """Where this machine reaches a server bound to ``host``: a wildcard is reached on loopback."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def record(server: ServerSettings) -> Path:
    """Note where this process serves, for ``qa healthcheck``; the note goes when it exits."""
    folder = records_dir()
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / f"{os.getpid()}.json"
    path.write_text(json.dumps({"url": local_url(server.host, server.port)}), encoding="utf-8")
    owner = os.getpid()

    def forget() -> None:
        if os.getpid() == owner:  # forked workers run atexit too; the note is the master's
            path.unlink(missing_ok=True)

    atexit.register(forget)
    return path


def serving() -> list[str]:
    """The URLs of the servers recorded here that are still running; notes of dead ones go."""
    urls = []
    for path in sorted(records_dir().glob("*.json")):
        try:
            os.kill(int(path.stem), 0)
            urls.append(str(json.loads(path.read_text(encoding="utf-8"))["url"]))
        except ProcessLookupError:
            path.unlink(missing_ok=True)
        except (OSError, ValueError, KeyError):
            continue  # being written, or not ours
    return urls


def healthy(url: str, timeout: float) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=timeout) as response:
            return bool(response.status == 200)
    except OSError:  # refused, timed out, or an HTTP error status (urllib's errors are OSErrors)
        return False


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "healthcheck",
        help="exit 0 when the qa serve running here answers /healthz (for container checks)",
    )
    p.add_argument("--timeout", type=float, default=4.0, help="seconds per server (default 4)")
    p.set_defaults(func=cmd_healthcheck)


def cmd_healthcheck(args: argparse.Namespace, settings: Settings) -> int:
    urls = serving()
    if not urls:
        print("qa: no qa serve is running here", flush=True)
        return 1
    sick = [url for url in urls if not healthy(url, args.timeout)]
    for url in sick:
        print(f"qa: {url}/healthz does not answer 200", flush=True)
    return 1 if sick else 0
