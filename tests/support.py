"""Constants and helpers shared by tests (importable because pytest adds tests/ to sys.path)."""

from __future__ import annotations

import socket
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SHARED_DATA = ROOT.parent / "shared" / "data"
CHAIRMAN_Q = "Who is the chairman of the Tskhinvali parliament?"
CHAIRMAN_DOC = "000_5f0f8e843e26db9e"
CHAIRMAN = "Alan Alborov"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
