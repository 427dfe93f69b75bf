"""Slow clients against a real ``qa serve`` (issue 14, finding 6): connections that trickle their
request head in must not take the threads that answer everyone else."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from typing import Any

import pytest
from support import CHAIRMAN_Q

from qa.web.worker import HEAD_TIMEOUT

pytestmark = pytest.mark.slow

#: more than the threads of the test server's one worker (in-flight bound + spares)
SLOW_CLIENTS = 40


def _trickle(url_port: int, stop: threading.Event, closed: list[float]) -> None:
    """Send a request head one header line a second, as a slowloris client does."""
    try:
        with socket.create_connection(("127.0.0.1", url_port), timeout=30) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            n = 0
            while not stop.wait(1.0):
                try:
                    s.sendall(f"X-Slow-{n}: {'a' * 10}\r\n".encode())
                except OSError:
                    closed.append(time.monotonic())
                    return
                n += 1
    except OSError:
        closed.append(time.monotonic())


def test_slow_clients_do_not_stall_health_checks_or_questions(live_server: Any) -> None:
    port = live_server.port
    stop = threading.Event()
    closed: list[float] = []
    threads = [
        threading.Thread(target=_trickle, args=(port, stop, closed), daemon=True)
        for _ in range(SLOW_CLIENTS)
    ]
    started = time.monotonic()
    for t in threads:
        t.start()
    try:
        time.sleep(3)  # every slow client has sent a few lines by now
        for _ in range(3):
            with urllib.request.urlopen(f"{live_server.url}/healthz", timeout=5) as r:
                assert r.status == 200 and json.loads(r.read())["status"] == "ok"
        request = urllib.request.Request(
            f"{live_server.url}/api/ask",
            data=json.dumps({"question": CHAIRMAN_Q}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as r:
            assert r.status == 200 and json.loads(r.read())["passages"]
        # and a head that never ends is cut off, so the connections do not pile up either
        deadline = started + HEAD_TIMEOUT + 10
        while len(closed) < SLOW_CLIENTS and time.monotonic() < deadline:
            time.sleep(0.5)
        assert len(closed) == SLOW_CLIENTS
        assert min(closed) - started >= HEAD_TIMEOUT - 1
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=5)
