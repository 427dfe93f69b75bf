"""gunicorn's threaded worker, with request heads read without holding a thread.

gunicorn's ``gthread`` worker hands a connection to a thread as soon as its first bytes arrive,
and the thread then blocks until the whole request head is in. A client that sends one header
line every few seconds holds that thread as long as it likes, and a few dozen such clients hold
every thread, so health checks and questions time out for everyone (slowloris).

``HeadFirstWorker`` reads request heads in the worker's event loop instead, where a waiting
connection costs a file descriptor and a buffer, not a thread: a connection reaches a thread only
once its head is complete (``\\r\\n\\r\\n``), and one that has not sent it within
``HEAD_TIMEOUT`` seconds is closed. Bodies are still read by the thread (the app reads at most
``QA_MAX_BODY_BYTES``); a reverse proxy that buffers whole requests protects against slow bodies
too (see README, "Production").
"""

from __future__ import annotations

import contextlib
import selectors
import time
from functools import partial
from typing import Any

from gunicorn.http2 import negotiation
from gunicorn.workers.gthread import ThreadWorker

#: seconds a client has, from its first byte, to send a whole request head
HEAD_TIMEOUT = 10.0
#: past this many bytes without an end, the head goes to gunicorn's parser, which refuses it
MAX_HEAD_BYTES = 64 * 1024
HEAD_END = b"\r\n\r\n"


class HeadFirstWorker(ThreadWorker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._heads: dict[Any, float] = {}  # connection -> deadline for its head

    def enqueue_req(self, conn: Any) -> None:
        if self._head_ready(conn) or not self._can_buffer(conn):
            super().enqueue_req(conn)
            return
        conn.sock.setblocking(False)
        self._heads[conn] = time.monotonic() + HEAD_TIMEOUT
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_head_data, conn))

    def _can_buffer(self, conn: Any) -> bool:
        """TLS and HTTP/2 prior knowledge read their own preamble first: leave them to gunicorn."""
        if conn.is_http2 or self.cfg.is_ssl:
            return False
        return not negotiation.prior_knowledge_allowed(self.cfg, conn.client)

    @staticmethod
    def _head_ready(conn: Any) -> bool:
        head: bytes = getattr(conn, "qa_head", b"")
        if conn.parser is not None:  # a kept-alive connection may hold read-ahead already
            head = conn.parser.unreader.buf.getvalue() + head
        return HEAD_END in head or len(head) > MAX_HEAD_BYTES

    def _on_head_data(self, conn: Any, _sock: Any) -> None:
        try:
            data = conn.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # the client went away
            self._drop(conn)
            return
        conn.qa_head = getattr(conn, "qa_head", b"") + data
        if self._head_ready(conn):
            self._forget(conn)
            conn.data_ready = True
            super().enqueue_req(conn)

    def handle(self, conn: Any) -> Any:
        """Runs in a thread: give the buffered head back to the connection's parser first."""
        head: bytes = getattr(conn, "qa_head", b"")
        if head:
            conn.qa_head = b""
            conn.init()  # creates the parser on a new connection; a no-op on a kept-alive one
            unreader = conn.parser.unreader
            unreader.unread(unreader.take_buffered() + head)  # after any earlier read-ahead
        return super().handle(conn)

    def murder_pending(self) -> None:
        super().murder_pending()
        now = time.monotonic()
        for conn, deadline in list(self._heads.items()):
            if deadline <= now or not self.alive:
                self._drop(conn)

    def _forget(self, conn: Any) -> None:
        self._heads.pop(conn, None)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(conn.sock)

    def _drop(self, conn: Any) -> None:
        self._forget(conn)
        self.nr_conns -= 1
        conn.close()
