"""gunicorn's threaded worker, with whole requests read without holding a thread.

gunicorn's ``gthread`` worker hands a connection to a thread as soon as its first bytes arrive,
and the thread then blocks until the request head is in, and again while the application reads
the body. A client that sends one header line, or one body byte, every few seconds holds that
thread as long as it likes; a few dozen such clients hold every thread (and every admission to
the app), so health checks and questions time out for everyone (slowloris, slow POST).

``HeadFirstWorker`` reads each request in the worker's event loop instead, where a waiting
connection costs a file descriptor and a buffer, not a thread. A connection reaches a thread only
once its request is complete, as h11 reads it: the head, and the body its ``Content-Length``
declares or its chunked body to the last chunk (passed on as h11 read it, the body with a
``Content-Length``; see :mod:`qa.web.framing`). Answered in the loop, without a thread, and
closed:

- a head not complete ``HEAD_TIMEOUT`` seconds after its first byte: closed without an answer;
- a head over 64 KiB: 431;
- a body over the app's ``MAX_CONTENT_LENGTH`` (``QA_MAX_BODY_BYTES``): 413, as soon as its
  ``Content-Length`` says so (before the body is sent, with ``Expect: 100-continue``) or its
  chunks pass the limit;
- a body that arrives slower than ``MIN_BODY_RATE`` on average after ``BODY_TIMEOUT`` seconds of
  grace: 408;
- a head h11 refuses, or framing that cannot be trusted (``Content-Length`` with
  ``Transfer-Encoding``, a malformed chunk): 400; a transfer coding other than chunked: 501;
- a body that would take the bytes buffered by this worker over ``buffer_budget`` (past the
  first ``SMALL_BODY`` bytes, so small requests such as questions always fit): 503.

Errors have the app's JSON shape (``{"error": {"code", "message"}}``) and security headers.
"""

from __future__ import annotations

import contextlib
import json
import selectors
import socket
import time
from dataclasses import dataclass
from functools import partial
from http import HTTPStatus
from typing import Any

from gunicorn.http2 import negotiation
from gunicorn.workers.gthread import ThreadWorker

from qa.web.framing import RequestBuffer
from qa.web.parent_watch import leave

#: seconds a client has, from its first byte, to send a whole request head
HEAD_TIMEOUT = 10.0
#: seconds of grace a body has, from the end of its head, before MIN_BODY_RATE applies
BODY_TIMEOUT = 10.0
#: bytes a second a body must average after its grace (a 10 MiB upload: 10 minutes)
MIN_BODY_RATE = 16 * 1024
#: a worker's limit on body bytes buffered at once, at least twice the largest body allowed
BUFFER_BUDGET = 64 * 1024 * 1024
#: a body this small is buffered even past the budget
SMALL_BODY = 64 * 1024
#: the body limit when the app sets none
DEFAULT_MAX_BODY = 10 * 1024 * 1024
#: seconds a refused connection is kept open, reading and discarding, so that the client reads
#: the answer before the connection closes (closing on unread data resets the connection)
LINGER = 2.0

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


@dataclass
class _Waiting:
    """A connection whose request is being read in the loop."""

    request: RequestBuffer
    deadline: float
    body_started: float | None = None
    lingering: bool = False  # refused: discarding what the client still sends, then closing


class HeadFirstWorker(ThreadWorker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._waiting: dict[Any, _Waiting] = {}
        self._held = 0  # bytes the waiting requests hold
        self._max_body: int | None = None

    def run(self) -> None:
        """gunicorn's loop, then an immediate exit (see ``qa.web.parent_watch.leave``): past the
        interpreter's shutdown, native libraries' destructors can hang a forked worker."""
        status = 0
        try:
            super().run()
        except SystemExit as exc:  # gunicorn's handlers of SIGQUIT and SIGABRT exit this way
            status = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            self.log.exception("worker %s: its loop failed", self.pid)
            status = 1
        self.log.info("Worker exiting (pid: %s)", self.pid)
        leave(status)

    def is_parent_alive(self) -> bool:
        """With the master gone, stop as a SIGTERM from it would stop the worker: requests still
        being read are dropped, those running finish (within ``graceful_timeout``)."""
        if super().is_parent_alive():
            return True
        self.alive = False
        return False

    @property
    def max_body(self) -> int:
        """The app's body limit (Flask's ``MAX_CONTENT_LENGTH``), read once the app is loaded."""
        if self._max_body is None:
            config = getattr(getattr(self, "wsgi", None), "config", None) or {}
            self._max_body = int(config.get("MAX_CONTENT_LENGTH") or DEFAULT_MAX_BODY)
        return self._max_body

    @property
    def buffer_budget(self) -> int:
        return max(BUFFER_BUDGET, 2 * self.max_body)

    def enqueue_req(self, conn: Any) -> None:
        if not self._can_buffer(conn):
            super().enqueue_req(conn)
            return
        conn.sock.setblocking(False)
        # a kept-alive connection may hold read-ahead already: the start of its next request
        ahead = conn.parser.unreader.take_buffered() if conn.parser is not None else b""
        waiting = _Waiting(RequestBuffer(self.max_body, ahead), time.monotonic() + HEAD_TIMEOUT)
        self._waiting[conn] = waiting
        self._held += waiting.request.held
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_data, conn))
        self._progress(conn, waiting)

    def _can_buffer(self, conn: Any) -> bool:
        """TLS and HTTP/2 prior knowledge read their own preamble first: leave them to gunicorn."""
        if conn.is_http2 or self.cfg.is_ssl:
            return False
        return not negotiation.prior_knowledge_allowed(self.cfg, conn.client)

    def _on_data(self, conn: Any, _sock: Any) -> None:
        waiting = self._waiting.get(conn)
        if waiting is None:
            return
        try:
            data = conn.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # the client went away (or, lingering, finished sending)
            self._drop(conn)
            return
        if waiting.lingering:
            return  # discarded
        request = waiting.request
        before = request.held
        request.feed(data)
        self._held += request.held - before
        if request.body_received > SMALL_BODY and self._held > self.buffer_budget:
            self._refuse(conn, 503, "too many uploads in progress; retry shortly", retry=True)
            return
        self._progress(conn, waiting)

    def _progress(self, conn: Any, waiting: _Waiting) -> None:
        """Hand the request on, or refuse it, when it is time."""
        request = waiting.request
        if request.refusal is not None:
            self._refuse(conn, request.refusal.status, request.refusal.message)
        elif request.ready:
            self._forget(conn)
            conn.qa_request = request.request()
            conn.data_ready = True  # gunicorn's thread must not wait for the socket to be readable
            super().enqueue_req(conn)
        else:
            if request.head is not None and waiting.body_started is None:
                waiting.body_started = time.monotonic()
            if request.wants_continue:
                request.continue_sent = True
                with contextlib.suppress(OSError):
                    conn.sock.send(CONTINUE)

    def _deadline(self, waiting: _Waiting) -> float:
        if waiting.lingering or waiting.body_started is None:
            return waiting.deadline
        return waiting.body_started + BODY_TIMEOUT + waiting.request.body_received / MIN_BODY_RATE

    def handle(self, conn: Any) -> Any:
        """Runs in a thread: give the buffered request to the connection's parser first."""
        data: bytes = getattr(conn, "qa_request", b"")
        if data:
            conn.qa_request = b""
            conn.init()  # creates the parser on a new connection; a no-op on a kept-alive one
            unreader = conn.parser.unreader
            unreader.unread(unreader.take_buffered() + data)
        return super().handle(conn)

    def murder_pending(self) -> None:
        super().murder_pending()
        now = time.monotonic()
        for conn, waiting in list(self._waiting.items()):
            if not self.alive:
                self._drop(conn)
            elif self._deadline(waiting) <= now:
                if waiting.lingering or waiting.body_started is None:
                    self._drop(conn)  # a head that never ends gets no answer
                else:
                    self._refuse(conn, 408, "the request body came in too slowly")

    def _refuse(self, conn: Any, status: int, message: str, retry: bool = False) -> None:
        """Answer ``status`` and close once the client has had time to read it."""
        from qa.web import SECURITY_HEADERS
        from qa.web.errors import HTTP_CODES

        code = HTTP_CODES.get(status, "error")
        body = json.dumps({"error": {"code": code, "message": message}}).encode()
        headers = {
            "Content-Type": "application/json",
            "Content-Length": str(len(body)),
            "Connection": "close",
            **({"Retry-After": "1"} if retry else {}),
            **SECURITY_HEADERS,
        }
        head = f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in headers.items()
        )
        self.log.info("%s %s: %s", conn.client, status, message)
        try:
            conn.sock.send(head.encode("latin-1") + b"\r\n" + body)  # small: the buffer takes it
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._drop(conn)
            return
        waiting = self._waiting[conn]
        self._held -= waiting.request.held
        waiting.request = RequestBuffer(0)  # what it held is no longer needed
        waiting.lingering = True
        waiting.deadline = time.monotonic() + LINGER

    def _forget(self, conn: Any) -> None:
        waiting = self._waiting.pop(conn, None)
        if waiting is not None:
            self._held -= waiting.request.held
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(conn.sock)

    def _drop(self, conn: Any) -> None:
        self._forget(conn)
        self.nr_conns -= 1
        conn.close()
