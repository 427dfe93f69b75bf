"""Slow clients against a real ``qa serve`` (issue 14, finding 6): connections that trickle their
request head or body in must not take the threads that answer everyone else; bodies that do come
in (declared, chunked, at the limit, after "100 Continue", pipelined) are answered as before."""

from __future__ import annotations

import http.client
import json
import re
import select
import shutil
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import CHAIRMAN_Q, ROOT

from qa.web.process import ServeProcess
from qa.web.worker import BODY_TIMEOUT, HEAD_TIMEOUT

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


# -- slow bodies ----------------------------------------------------------------------------------

#: the small server's body limit
BODY_LIMIT = 64 * 1024
#: the small server's file limit
FILE_LIMIT = 16 * 1024
SMALL_TOKEN = "small-token-9012"


@pytest.fixture(scope="module")
def small_server(
    seeds_index_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    """``qa serve`` with 2 workers of 4 threads each (an in-flight bound of 2, plus the spares),
    a 64 KiB body limit and a 16 KiB file limit, on a copy of the seeds index."""
    tmp = tmp_path_factory.mktemp("small")
    shutil.copytree(seeds_index_dir, tmp / "index")
    env = {
        "QA_INDEX_DIR": str(tmp / "index"),
        "QA_QUEUE_SIZE": "2",
        "QA_MAX_BODY_BYTES": str(BODY_LIMIT),
        "QA_MAX_FILE_BYTES": str(FILE_LIMIT),
        "QA_API_TOKEN": SMALL_TOKEN,
        "QA_WRITES_PER_MINUTE": "0",
        "PYTHONUNBUFFERED": "1",
        "PROMETHEUS_MULTIPROC_DIR": None,
    }
    with ServeProcess(
        workers=2, threads=1, env=env, cwd=ROOT, log_path=tmp / "serve.log"
    ) as server:
        server.wait_until_healthy(timeout=420)
        yield server


def _slow_body(port: int, stop: threading.Event, answers: list[tuple[float, bytes]]) -> None:
    """Send a question's head at once, then its body one byte every 2 s (a slow POST)."""
    head = (
        b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n{"
    )
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            s.sendall(head)
            while not stop.is_set():
                readable, _, _ = select.select([s], [], [], 2.0)
                if readable:  # answered (or closed) before its body was in
                    answers.append((time.monotonic(), s.recv(4096)))
                    return
                s.sendall(b" ")
    except OSError:
        answers.append((time.monotonic(), b""))


def _ask(url: str, timeout: float = 30) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"{url}/api/ask",
        data=json.dumps({"question": CHAIRMAN_Q}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_slow_bodies_do_not_stall_health_checks_or_questions(small_server: ServeProcess) -> None:
    slow = 24  # three times the threads of both workers together
    stop = threading.Event()
    answers: list[tuple[float, bytes]] = []
    threads = [
        threading.Thread(target=_slow_body, args=(small_server.port, stop, answers), daemon=True)
        for _ in range(slow)
    ]
    started = time.monotonic()
    for t in threads:
        t.start()
    try:
        time.sleep(4)  # every slow client has sent its head and a few body bytes by now
        for _ in range(3):
            with urllib.request.urlopen(f"{small_server.url}/healthz", timeout=5) as r:
                assert r.status == 200 and json.loads(r.read())["status"] == "ok"
        for _ in range(3):  # more than one worker's in-flight bound
            status, body = _ask(small_server.url)
            assert status == 200 and body["passages"], body
        assert not answers, answers[:3]  # still sending: nobody answered them yet
        # a body that does not come in time gets a 408 and the connection is closed
        deadline = started + BODY_TIMEOUT + 15
        while len(answers) < slow and time.monotonic() < deadline:
            time.sleep(0.5)
        assert len(answers) == slow
        assert all(a.startswith(b"HTTP/1.1 408 ") for _, a in answers), answers[:3]
        assert min(at for at, _ in answers) - started >= BODY_TIMEOUT - 1
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=5)


def _raw(port: int, data: bytes, *, then: bytes = b"", timeout: float = 60) -> bytes:
    """Send ``data`` on a new connection, read until the server closes it or a response is
    complete; ``then`` is sent after the first response (an interim 100)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        received = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return received
            received += chunk
            if then and received.startswith(b"HTTP/1.1 100 ") and received.endswith(b"\r\n\r\n"):
                s.sendall(then)
                then = b""
                received = b""
            elif b"\r\n\r\n" in received:
                head, _, body = received.partition(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length: *(\d+)", head)
                if length and len(body) >= int(length[1]):
                    return received


def _status_and_json(response: bytes) -> tuple[int, Any]:
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(body)


def _question_of(size: int) -> bytes:
    """A question's JSON padded with spaces to ``size`` bytes."""
    body = json.dumps({"question": CHAIRMAN_Q}).encode()
    return body + b" " * (size - len(body))


def _post_head(length: int | None, extra: bytes = b"") -> bytes:
    framing = b"Transfer-Encoding: chunked" if length is None else b"Content-Length: %d" % length
    return (
        b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Connection: close\r\n" + framing + b"\r\n" + extra + b"\r\n"
    )


def _chunked(body: bytes, piece: int = 1000) -> bytes:
    parts = [body[i : i + piece] for i in range(0, len(body), piece)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


def test_bodies_up_to_the_limit_are_answered_and_larger_ones_are_413(
    small_server: ServeProcess,
) -> None:
    port = small_server.port
    at_limit, over = _question_of(BODY_LIMIT), _question_of(BODY_LIMIT + 1)

    status, body = _status_and_json(_raw(port, _post_head(len(at_limit)) + at_limit))
    assert status == 200 and body["passages"], body
    status, body = _status_and_json(_raw(port, _post_head(None) + _chunked(at_limit)))
    assert status == 200 and body["passages"], body

    for request in (_post_head(len(over)) + over, _post_head(None) + _chunked(over)):
        status, body = _status_and_json(_raw(port, request))
        assert status == 413 and body["error"]["code"] == "too_large"
        assert str(BODY_LIMIT) in body["error"]["message"]

    # with "Expect: 100-continue" a body over the limit is refused before it is sent ...
    expect = b"Expect: 100-continue\r\n"
    response = _raw(port, _post_head(10 * BODY_LIMIT, expect))
    assert _status_and_json(response)[0] == 413
    # ... and one within it is asked for with a single 100 Continue, then answered
    response = _raw(port, _post_head(len(at_limit), expect), then=at_limit)
    status, body = _status_and_json(response)
    assert status == 200 and body["passages"], body

    # a head that does not end within 64 KiB is refused, not read on by a thread
    status, body = _status_and_json(_raw(port, b"GET / HTTP/1.1\r\nX: " + b"a" * 70_000))
    assert status == 431 and body["error"]["code"] == "head_too_large"

    # a transfer coding the service cannot read is refused, not guessed at
    status, body = _status_and_json(
        _raw(port, _post_head(None).replace(b"chunked", b"gzip, chunked") + b"0\r\n\r\n")
    )
    assert status == 501 and body["error"]["code"] == "not_implemented"


def test_kept_alive_connections_and_pipelined_requests_are_answered(
    small_server: ServeProcess,
) -> None:
    question = json.dumps({"question": CHAIRMAN_Q}).encode()
    connection = http.client.HTTPConnection("127.0.0.1", small_server.port, timeout=60)
    try:
        for encode_chunked in (False, True, False):
            body: Any = iter([question[:10], question[10:]]) if encode_chunked else question
            connection.request(
                "POST",
                "/api/ask",
                body=body,
                headers={"Content-Type": "application/json"},
                encode_chunked=encode_chunked,
            )
            response = connection.getresponse()
            assert response.status == 200 and json.loads(response.read())["passages"]
    finally:
        connection.close()
    one = _post_head(len(question)).replace(b"Connection: close\r\n", b"") + question
    pipelined = one + one + b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", small_server.port), timeout=60) as s:
        s.sendall(pipelined)
        received = b""
        while chunk := s.recv(65536):
            received += chunk
    assert received.count(b"HTTP/1.1 200 ") == 3, received[:500]


# -- files over the limit -------------------------------------------------------------------------


def _upload(port: int, files: list[tuple[str, bytes]]) -> tuple[int, Any]:
    boundary = "qa-test-boundary-7f3a"
    body = b""
    for name, data in files:
        disposition = f'form-data; name="files"; filename="{name}"'
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        body += data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    head = (
        f"POST /api/documents HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        f"Authorization: Bearer {SMALL_TOKEN}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return _status_and_json(_raw(port, head + body))


def test_uploads_over_the_limits_are_refused_by_their_size(small_server: ServeProcess) -> None:
    port = small_server.port
    article = b"Lights\n\nThe keeper of Port Ellery is Tomas Brandvold.\n"
    big = article + b"x" * FILE_LIMIT
    status, body = _upload(port, [("keeper.txt", article), ("big.txt", big)])
    assert status == 413, body
    assert f"big.txt: file of {len(big):,} bytes; the limit is {FILE_LIMIT:,}" in str(body)
    status, body = _upload(port, [("keeper.txt", article)])
    assert status == 200 and body["added"] == ["keeper"], body

    # a body declared larger than the limit is refused on its head: the server reads none of
    # it, whether the client waits for "100 Continue" or starts sending at once
    head = (
        f"POST /api/documents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {SMALL_TOKEN}\r\n"
        f"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: {2**30}\r\n"
    ).encode()
    for request in (head + b"Expect: 100-continue\r\n\r\n", head + b"\r\n--b\r\n"):
        started = time.monotonic()
        status, body = _status_and_json(_raw(port, request, timeout=10))
        assert status == 413 and str(BODY_LIMIT) in body["error"]["message"]
        assert time.monotonic() - started < 5

    # the upload page says so, and checks a file's size before it is sent
    with urllib.request.urlopen(f"{small_server.url}/add", timeout=10) as r:
        page = r.read().decode()
    assert f'data-max-file-bytes="{FILE_LIMIT}"' in page and "per file" in page
