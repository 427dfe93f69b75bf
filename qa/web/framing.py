"""Where an HTTP/1.1 request ends, found as its bytes arrive (for :mod:`qa.web.worker`).

The worker buffers each request in its event loop until all of it is in. h11 parses it as the
bytes arrive: the head, then the body its ``Content-Length`` declares, or its chunked body to the
last chunk. ``RequestBuffer`` says when that point is reached, or why the request is refused
before it is (a body over the limit, framing h11 or this module does not trust).

gunicorn is then handed the request as h11 parsed it, written out again: the request line, the
fields, and the body with its ``Content-Length`` (a chunked body decoded). gunicorn never reads
the client's own framing, so the two parsers cannot disagree about where a request ends, and the
application knows the exact size of every body it reads: a chunked body of exactly the limit is
accepted and one byte more is a 413, as with a declared length.
"""

from __future__ import annotations

from dataclasses import dataclass

import h11

CRLF = b"\r\n"
#: a head longer than this without its end is refused (431); a chunk-size line or trailer
#: section longer than this is refused too (400)
MAX_HEAD_BYTES = 64 * 1024
#: fields that frame the body: gunicorn gets a Content-Length of the decoded body instead
FRAMING = frozenset({b"content-length", b"transfer-encoding"})


@dataclass(frozen=True)
class Refusal:
    """Answer ``status`` with ``message`` and close: the request never reaches a thread."""

    status: int
    message: str


class RequestBuffer:
    """One request's bytes as they arrive, until all of it is in.

    ``ready`` when the head is complete with all of its body; ``refusal`` when it must be
    answered here instead. Bytes after the request (a pipelined next one) go on with it."""

    def __init__(self, max_body: int, data: bytes = b"") -> None:
        self.max_body = max_body
        self.head: h11.Request | None = None
        self.body = bytearray()
        self.after = bytearray()  # what followed the request
        self.ready = False
        self.refusal: Refusal | None = None
        self.continue_sent = False
        self._parser = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)
        # RFC 9112 2.2: one empty line may come before the request line (a client's stray CRLF
        # after its last body). gunicorn skips it, h11 refuses it: skipped here. None once past.
        self._lead: bytes | None = b""
        self.feed(data)

    def feed(self, data: bytes | bytearray) -> None:
        if self.refusal:
            return
        if self.ready:
            self.after += data
            return
        if self._lead is not None:
            data = self._lead + data
            if CRLF.startswith(data):  # no more than (part of) the empty line yet
                self._lead = bytes(data)
                return
            self._lead = None
            data = data.removeprefix(CRLF)
        if not data:
            return  # h11 reads an empty receive_data as the end of the connection
        self._parser.receive_data(bytes(data))
        try:
            self._read()
        except h11.RemoteProtocolError as error:
            self.refusal = self._refusal(error)

    def _read(self) -> None:
        while not (self.ready or self.refusal):
            event = self._parser.next_event()
            if event is h11.NEED_DATA:
                return
            if isinstance(event, h11.Request):
                self.head = event
                self.refusal = self._check(event)
            elif isinstance(event, h11.Data):
                self.body += event.data
                if len(self.body) > self.max_body:
                    self.refusal = self._too_large()
            elif isinstance(event, h11.EndOfMessage):  # trailer fields are dropped: unread
                self.ready = True
                self.after += self._parser.trailing_data[0]

    def _check(self, head: h11.Request) -> Refusal | None:
        """What h11 takes but is refused here: a body over the limit, and framing that another
        parser on the way (a proxy) could read differently."""
        names = {name for name, _ in head.headers}
        if b"transfer-encoding" in names:
            if b"content-length" in names:
                return Refusal(400, "ambiguous request framing (Content-Length and chunked)")
            if head.http_version < b"1.1":
                return Refusal(400, "a chunked body needs HTTP/1.1")
        length = next((int(v) for n, v in head.headers if n == b"content-length"), 0)
        return self._too_large() if length > self.max_body else None

    def _too_large(self) -> Refusal:
        return Refusal(413, f"request body too large (limit {self.max_body} bytes)")

    def _refusal(self, error: h11.RemoteProtocolError) -> Refusal:
        if error.error_status_hint == 431:  # what h11 holds has grown past MAX_HEAD_BYTES
            if self.head is None:
                return Refusal(431, f"request head over {MAX_HEAD_BYTES} bytes")
            return Refusal(400, f"chunk-size line or trailer section over {MAX_HEAD_BYTES} bytes")
        # h11's message may quote the offending line: a short one is enough
        return Refusal(error.error_status_hint, str(error)[:200])

    @property
    def held(self) -> int:
        """Bytes this buffer holds."""
        unread = 0 if self.ready or self.refusal else len(self._parser.trailing_data[0])
        return len(self.body) + len(self.after) + unread

    @property
    def body_received(self) -> int:
        """Body bytes in so far, decoded."""
        return len(self.body)

    @property
    def wants_continue(self) -> bool:
        """The client waits for "100 Continue" before it sends its body, and may send it."""
        waiting = self._parser.they_are_waiting_for_100_continue
        return waiting and not (self.ready or self.refusal or self.continue_sent)

    def request(self) -> bytes:
        """The bytes to give gunicorn's parser once ``ready``: the request as h11 read it, its
        body with its length declared, an answered ``Expect: 100-continue`` removed (gunicorn
        would send a 100 of its own), and whatever followed."""
        head = self.head
        assert self.ready and head is not None
        lines = [b"%s %s HTTP/%s" % (head.method, head.target, head.http_version)]
        framed = False
        for name, value in head.headers.raw_items():
            lower = name.lower()
            if lower in FRAMING:
                framed = True
            elif not (lower == b"expect" and value.lower() == b"100-continue"):
                lines.append(name + b": " + value)
        if framed:
            lines.append(b"Content-Length: %d" % len(self.body))
        return CRLF.join(lines) + CRLF + CRLF + self.body + self.after
