"""Where an HTTP/1.1 request ends, found as its bytes arrive (for :mod:`qa.web.worker`).

The worker buffers each request in its event loop until gunicorn's parser can read all of it
without waiting on the socket: the head, then the body its ``Content-Length`` declares, or its
chunked body up to the last chunk. ``RequestBuffer`` says when that point is reached, or why the
request is refused before it is (a body over the limit, framing that cannot be trusted).

A chunked body is decoded here and handed on with a ``Content-Length``: the application then
knows the exact size of every body it reads, so a chunked body of exactly the limit is accepted
and one byte more is a 413, as with a declared length. The rules mirror gunicorn's parser
(``gunicorn.http.message`` and ``gunicorn.http.body``): what it would refuse in a head is handed on
for it to refuse, and what it would refuse in a chunked body is refused here, because it never
sees the chunks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gunicorn.http.body import CHUNK_EXT_RE

HEAD_END = b"\r\n\r\n"
CRLF = b"\r\n"
#: a head longer than this without its end is refused (431)
MAX_HEAD_BYTES = 64 * 1024
#: a chunk-size line (size and extensions) longer than this is refused, as gunicorn does
MAX_CHUNK_LINE = 8190
#: trailer fields after the last chunk: as much as a head
MAX_TRAILER_BYTES = MAX_HEAD_BYTES
HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
VERSION = re.compile(rb"HTTP/(\d)\.(\d)")


@dataclass(frozen=True)
class Refusal:
    """Answer ``status`` with ``message`` and close: the request never reaches a thread."""

    status: int
    message: str


@dataclass(frozen=True)
class Head:
    """What a request head says about the body behind it."""

    size: int  # bytes, the blank line that ends it included
    # None: no readable request line; gunicorn refuses it, but its body is read all the same, so
    # that no leniency of gunicorn's can make a thread wait for it
    version: tuple[int, int] | None
    content_length: int | None
    chunked: bool
    expect_continue: bool  # HTTP/1.1 "Expect: 100-continue"
    refusal: Refusal | None  # framing gunicorn would not trust either

    @property
    def has_body(self) -> bool:
        return self.chunked or bool(self.content_length)


def parse_head(data: bytes | bytearray) -> Head | None:
    """The head at the start of ``data``, or None while its end has not arrived."""
    end = data.find(HEAD_END)
    if end < 0:
        return None
    lines = bytes(data[:end]).split(CRLF)
    if lines[0] == b"" and len(lines) > 1:  # one empty line may precede the request line
        lines = lines[1:]
    match = VERSION.fullmatch(lines[0].rsplit(b" ", 1)[-1])
    version = (int(match[1]), int(match[2])) if match else None
    lengths: list[bytes] = []
    codings: list[bytes] = []
    expect_continue = False
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon:
            continue  # not a field: gunicorn refuses the head
        name, value = name.strip(b" \t").lower(), value.strip(b" \t")
        if name == b"content-length":
            lengths.append(value)
        elif name == b"transfer-encoding":
            codings += [c.strip(b" \t").lower() for c in value.split(b",")]
        elif name == b"expect" and value.lower() == b"100-continue":
            expect_continue = version is not None and version >= (1, 1)
    refusal = None
    content_length = None
    chunked = False
    if codings:
        if lengths or codings.count(b"chunked") != 1 or codings[-1] != b"chunked":
            refusal = Refusal(400, "ambiguous request framing (Transfer-Encoding)")
        elif version is not None and version < (1, 1):
            refusal = Refusal(400, "a chunked body needs HTTP/1.1")
        elif codings != [b"chunked"]:
            coding = b", ".join(codings).decode("latin-1")
            refusal = Refusal(501, f"Transfer-Encoding {coding!r} is not supported; send chunked")
        else:
            chunked = True
    elif lengths:
        if len(lengths) > 1 or not lengths[0].isdigit():
            refusal = Refusal(400, "bad Content-Length")
        else:
            content_length = int(lengths[0])
    return Head(end + len(HEAD_END), version, content_length, chunked, expect_continue, refusal)


def rewrite_head(head: bytes, drop: frozenset[bytes], add: list[bytes]) -> bytes:
    """``head`` without the fields named in ``drop`` (lower case) and with the lines ``add``."""
    lines = head[: -len(HEAD_END)].split(CRLF)
    kept = [
        line
        for i, line in enumerate(lines)
        if i == 0 or line.partition(b":")[0].strip(b" \t").lower() not in drop
    ]
    return CRLF.join(kept + add) + HEAD_END


class ChunkedBody:
    """Decodes a chunked body fed in pieces: ``done`` once the last chunk and its trailer section
    are in (what follows stays in ``rest``), ``refusal`` when it is malformed or decodes to more
    than ``limit`` bytes. Only an unfinished chunk-size line or trailer section is held raw."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.body = bytearray()
        self.rest = bytearray()  # raw bytes not decoded yet; after ``done``, what followed
        self.done = False
        self.refusal: Refusal | None = None
        self._left = 0  # data bytes still to come in the current chunk
        self._state = "size"  # size -> data -> data-end -> size ... -> trailers

    @property
    def held(self) -> int:
        return len(self.body) + len(self.rest)

    def feed(self, data: bytes | bytearray) -> None:
        self.rest += data
        while not (self.done or self.refusal) and self._step():
            pass

    def _step(self) -> bool:
        """Decode what the next step of the body needs; False while that has not arrived."""
        rest = self.rest
        if self._state == "data":
            take = min(self._left, len(rest))
            self.body += rest[:take]
            del rest[:take]
            self._left -= take
            if self._left:
                return False
            self._state = "data-end"
        if self._state == "data-end":
            if len(rest) < len(CRLF):
                return False
            if rest[:2] != CRLF:
                self.refusal = Refusal(400, "chunk data not followed by CRLF")
                return False
            del rest[:2]
            self._state = "size"
        if self._state == "size":
            return self._size_line()
        return self._trailers()

    def _size_line(self) -> bool:
        end = self.rest.find(CRLF)
        if end < 0:
            if len(self.rest) > MAX_CHUNK_LINE:
                self.refusal = Refusal(400, f"chunk-size line over {MAX_CHUNK_LINE} bytes")
            return False
        size, semicolon, ext = bytes(self.rest[:end]).partition(b";")
        if semicolon:
            size = size.rstrip(b" \t")  # whitespace is allowed before an extension only
        if not size or not HEX_DIGITS.issuperset(size):
            self.refusal = Refusal(400, "bad chunk size")
            return False
        if semicolon and (b"\r" in ext or not CHUNK_EXT_RE.fullmatch(b";" + ext)):
            self.refusal = Refusal(400, "bad chunk extension")
            return False
        n = int(size, 16)
        if len(self.body) + n > self.limit:
            self.refusal = Refusal(413, f"request body too large (limit {self.limit} bytes)")
            return False
        del self.rest[: end + len(CRLF)]
        self._left = n
        self._state = "data" if n else "trailers"
        return True

    def _trailers(self) -> bool:
        rest = self.rest
        if rest[:2] == CRLF:  # no trailer fields
            del rest[:2]
            self.done = True
            return False
        end = rest.find(HEAD_END)
        if end < 0:
            if len(rest) > MAX_TRAILER_BYTES:
                self.refusal = Refusal(400, f"trailer section over {MAX_TRAILER_BYTES} bytes")
            return False
        del rest[: end + len(HEAD_END)]  # trailer fields are dropped: nothing here reads them
        self.done = True
        return False


class RequestBuffer:
    """One request's bytes as they arrive, until gunicorn's parser can read all of it.

    ``ready`` when the head is complete with all of its body (or it has none, or gunicorn will
    refuse the head as it stands); ``refusal`` when it must be answered here instead. Bytes after
    the request (a pipelined next one) go on with it."""

    def __init__(self, max_body: int, data: bytes = b"") -> None:
        self.max_body = max_body
        self.data = bytearray()  # the head, and a body of declared length
        self.head: Head | None = None
        self.ready = False
        self.refusal: Refusal | None = None
        self.continue_sent = False
        self._chunks: ChunkedBody | None = None
        self.feed(data)

    def feed(self, data: bytes | bytearray) -> None:
        if self.ready or self.refusal:
            self.data += data  # pipelined; goes on with the request
            return
        if self._chunks is not None:
            self._chunks.feed(data)
            self._chunked_progress()
            return
        self.data += data
        if self.head is None:
            self._read_head()
        elif not self.ready:
            self.ready = len(self.data) >= self.head.size + (self.head.content_length or 0)

    @property
    def held(self) -> int:
        """Bytes this buffer holds."""
        return len(self.data) + (self._chunks.held if self._chunks is not None else 0)

    @property
    def body_received(self) -> int:
        """Body bytes in so far (0 while the head is incomplete)."""
        if self._chunks is not None:
            return self._chunks.held
        return max(0, len(self.data) - self.head.size) if self.head else 0

    @property
    def wants_continue(self) -> bool:
        """The client waits for "100 Continue" before it sends its body, and may send it."""
        return (
            self.head is not None
            and self.head.expect_continue
            and not (self.ready or self.refusal or self.continue_sent)
            and self.body_received == 0
        )

    def _read_head(self) -> None:
        head = self.head = parse_head(self.data)
        if head is None:
            if len(self.data) > MAX_HEAD_BYTES:
                self.refusal = Refusal(431, f"request head over {MAX_HEAD_BYTES} bytes")
            return
        if head.refusal is not None:
            self.refusal = head.refusal
        elif head.content_length is not None and head.content_length > self.max_body:
            self.refusal = Refusal(413, f"request body too large (limit {self.max_body} bytes)")
        elif head.chunked:
            self._chunks = ChunkedBody(self.max_body)
            body = self.data[head.size :]
            del self.data[head.size :]
            self._chunks.feed(body)
            self._chunked_progress()
        else:
            self.ready = len(self.data) >= head.size + (head.content_length or 0)

    def _chunked_progress(self) -> None:
        assert self._chunks is not None
        self.refusal = self._chunks.refusal
        self.ready = self._chunks.done

    def request(self) -> bytes:
        """The bytes to give gunicorn's parser once ``ready``: the head (a chunked body decoded,
        with its length declared; an answered ``Expect: 100-continue`` removed), the body, and
        whatever followed."""
        head = self.head
        if head is None or not head.has_body:
            return bytes(self.data)
        drop = {b"expect"} if head.expect_continue else set()
        raw_head = bytes(self.data[: head.size])
        if self._chunks is None:
            if not drop:
                return bytes(self.data)
            return rewrite_head(raw_head, frozenset(drop), []) + self.data[head.size :]
        drop.add(b"transfer-encoding")
        length = b"Content-Length: %d" % len(self._chunks.body)
        tail = self._chunks.body + self._chunks.rest + self.data[head.size :]
        return rewrite_head(raw_head, frozenset(drop), [length]) + tail
