"""Request framing in the worker's event loop (qa.web.framing): a request is handed on exactly when
all of it is in, as h11 reads it, and gunicorn's own parser then reads the same request from the
bytes handed on."""

from __future__ import annotations

import string

from gunicorn.config import Config
from gunicorn.http.parser import RequestParser
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.web.framing import MAX_HEAD_BYTES, RequestBuffer

LIMIT = 1000


def gunicorn_reads(data: bytes) -> list[tuple[str, list[tuple[str, str]], bytes]]:
    """Every request gunicorn's parser finds in ``data``: method, headers and body."""
    parser = RequestParser(Config(), iter([data]), ("127.0.0.1", 1))
    found = []
    for req in parser:
        found.append((req.method, req.headers, req.body.read()))
    return found


def gunicorn_agrees(buffer: RequestBuffer) -> list[tuple[str, list[tuple[str, str]], bytes]]:
    """gunicorn reads the request handed on as h11 read it: the same line, fields and body, the
    framing fields replaced by one Content-Length of the body; then whatever followed."""
    head = buffer.head
    assert buffer.ready and head is not None
    parser = RequestParser(Config(), iter([buffer.request()]), ("127.0.0.1", 1))
    req = next(parser)
    assert (req.method, req.uri, req.version) == (
        head.method.decode(),
        head.target.decode(),
        tuple(int(n) for n in head.http_version.split(b".")),
    )
    fields = [
        (name.decode().upper(), value.decode("latin-1"))
        for name, value in head.headers.raw_items()
        if name.lower() not in (b"content-length", b"transfer-encoding")
        and (name.lower(), value.lower()) != (b"expect", b"100-continue")
    ]
    if any(name in (b"content-length", b"transfer-encoding") for name, _ in head.headers):
        fields.append(("CONTENT-LENGTH", str(len(buffer.body))))
    assert req.headers == fields
    assert req.body.read() == bytes(buffer.body)
    return [(r.method, r.headers, r.body.read()) for r in parser]


def feed_in_pieces(buffer: RequestBuffer, data: bytes, cuts: list[int]) -> int:
    """Feed ``data`` cut at ``cuts``; the offset at which the buffer became ready or refused."""
    at = 0
    for cut in [*sorted({min(c, len(data)) for c in cuts}), len(data)]:
        if cut <= at:
            continue
        buffer.feed(data[at:cut])
        at = cut
        if buffer.ready or buffer.refusal:
            return at
    return at


def chunked(pieces: list[bytes], ext: bool = False, trailer: bool = False) -> bytes:
    out = b"".join(
        b"%x%s\r\n%s\r\n" % (len(p), b";name=value" if ext else b"", p) for p in pieces if p
    )
    return out + b"0\r\n" + (b"X-Trailer: 1\r\n" if trailer else b"") + b"\r\n"


HEAD = b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
#: a pipelined next request
FOLLOWING = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"


@settings(max_examples=200, deadline=None)
@given(
    body=st.binary(max_size=LIMIT),
    cuts=st.lists(st.integers(min_value=0, max_value=1200), max_size=8),
)
def test_a_declared_body_is_ready_at_its_last_byte(body: bytes, cuts: list[int]) -> None:
    data = HEAD + b"Content-Length: %d\r\n\r\n" % len(body) + body
    buffer = RequestBuffer(LIMIT)
    assert feed_in_pieces(buffer, data, cuts) == len(data)
    assert buffer.ready and buffer.refusal is None
    assert bytes(buffer.body) == body
    assert gunicorn_agrees(buffer) == []


@settings(max_examples=200, deadline=None)
@given(
    pieces=st.lists(st.binary(min_size=1, max_size=300), max_size=6),
    cuts=st.lists(st.integers(min_value=0, max_value=2500), max_size=10),
    ext=st.booleans(),
    trailer=st.booleans(),
)
def test_a_chunked_body_is_decoded_and_handed_on_with_its_length(
    pieces: list[bytes], cuts: list[int], ext: bool, trailer: bool
) -> None:
    body = b"".join(pieces)
    raw = HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + chunked(pieces, ext, trailer)
    buffer = RequestBuffer(LIMIT)
    at = feed_in_pieces(buffer, raw + FOLLOWING, cuts)
    if len(body) > LIMIT:
        assert buffer.refusal is not None and buffer.refusal.status == 413
        return
    assert buffer.ready and buffer.refusal is None
    assert at >= len(raw)
    buffer.feed((raw + FOLLOWING)[at:])
    assert bytes(buffer.body) == body
    assert gunicorn_agrees(buffer) == [("GET", [("HOST", "x")], b"")]


#: field names and values h11 takes, gunicorn's rules aside (no "_" in names: gunicorn drops those)
NAME = st.text(string.ascii_letters + string.digits + "-!#$%&'*+.^`|~", min_size=1)
VALUE = st.binary(max_size=40).map(
    lambda b: bytes(c for c in b if c > 0x20 and c != 0x7F) + b" \t x"
)


@settings(max_examples=200, deadline=None)
@given(
    fields=st.lists(st.tuples(NAME, VALUE), max_size=8),
    target=st.sampled_from([b"/", b"/api/ask?q=a%20b&x=1", b"http://x/y"]),
    version=st.sampled_from([b"1.0", b"1.1"]),
    framing=st.sampled_from([b"", b"Content-Length: 3\r\n", b"Transfer-Encoding: chunked\r\n"]),
    ows=st.sampled_from([b"", b" ", b"\t ", b"  "]),
)
def test_gunicorn_reads_the_request_h11_read(
    fields: list[tuple[str, bytes]], target: bytes, version: bytes, framing: bytes, ows: bytes
) -> None:
    skip = {"host", "content-length", "transfer-encoding", "expect"}
    head = b"PUT %s HTTP/%s\r\nHost: x\r\n" % (target, version) + b"".join(
        name.encode() + b":" + ows + value + ows + b"\r\n"
        for name, value in fields
        if name.lower() not in skip
    )
    body = {b"": b"", b"Content-Length: 3\r\n": b"abc"}.get(framing, b"3\r\nabc\r\n0\r\n\r\n")
    buffer = RequestBuffer(LIMIT, head + framing + b"\r\n" + body + FOLLOWING)
    if framing.startswith(b"Transfer") and version == b"1.0":
        assert buffer.refusal is not None and buffer.refusal.status == 400
        return
    assert buffer.ready, buffer.refusal
    assert bytes(buffer.body) == (b"abc" if framing else b"")
    following = [("GET", [("HOST", "x")], b"")] if version == b"1.1" else []  # 1.0: one only
    assert gunicorn_agrees(buffer) == following


def test_bodies_at_the_limit_are_taken_and_one_byte_more_is_413() -> None:
    for size, status in ((LIMIT, None), (LIMIT + 1, 413)):
        declared = RequestBuffer(LIMIT, HEAD + b"Content-Length: %d\r\n\r\n" % size)
        # refused on the declared length alone, before any of the body is sent
        assert (declared.refusal.status if declared.refusal else None) == status
        sent = RequestBuffer(LIMIT)
        sent.feed(HEAD + b"Transfer-Encoding: chunked\r\n\r\n")
        sent.feed(b"%x\r\n%s\r\n" % (size - 1, b"a" * (size - 1)))
        assert not sent.ready and sent.refusal is None
        sent.feed(chunked([b"b"]))  # one byte more, then the last chunk
        if status is None:
            assert sent.ready and gunicorn_reads(sent.request())[0][2] == b"a" * (size - 1) + b"b"
        else:
            assert sent.refusal is not None and sent.refusal.status == 413
            assert str(LIMIT) in sent.refusal.message


def test_expect_100_continue_is_answered_here_and_not_again() -> None:
    buffer = RequestBuffer(LIMIT, HEAD + b"Expect: 100-continue\r\nContent-Length: 2\r\n\r\n")
    assert buffer.wants_continue and not buffer.ready
    buffer.continue_sent = True
    assert not buffer.wants_continue
    buffer.feed(b"{}")
    assert buffer.ready
    [(_, headers, body)] = gunicorn_reads(buffer.request())
    assert body == b"{}" and "EXPECT" not in dict(headers)
    # HTTP/1.0 clients get no 100 (RFC 9110 10.1.1)
    old = RequestBuffer(
        LIMIT, b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"
    )
    assert not old.wants_continue


def test_requests_without_a_body_are_ready_with_their_head() -> None:
    buffer = RequestBuffer(LIMIT)
    buffer.feed(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    assert not buffer.ready
    buffer.feed(b"\r\n")
    assert buffer.ready and buffer.request() == FOLLOWING
    # one empty line before the request line is skipped (RFC 9112 2.2), even cut in two
    stray = RequestBuffer(LIMIT, b"\r")
    stray.feed(b"\n" + FOLLOWING)
    assert stray.ready and stray.request() == FOLLOWING


def test_framing_that_cannot_be_trusted_is_refused() -> None:
    cases: dict[bytes, int] = {
        b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n": 400,
        b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n": 400,
        b"Content-Length: 3\r\nContent-Length: 4\r\n": 400,
        b"Content-Length: 3, 4\r\n": 400,
        b"Content-Length: -3\r\n": 400,
        b"Content-Length: +3\r\n": 400,
        b"Content-Length: 0x3\r\n": 400,
        b"Transfer-Encoding: chunked, chunked\r\n": 501,
        b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n": 501,
        b"Transfer-Encoding: chunked, gzip\r\n": 501,
        b"Transfer-Encoding: gzip, chunked\r\n": 501,
    }
    for fields, status in cases.items():
        buffer = RequestBuffer(LIMIT, HEAD + fields + b"\r\n")
        assert buffer.refusal is not None and buffer.refusal.status == status, fields
    old = RequestBuffer(LIMIT, b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n")
    assert old.refusal is not None and old.refusal.status == 400
    # the same length twice is one length (RFC 9110 8.6): gunicorn is told it once
    twice = RequestBuffer(LIMIT, HEAD + b"Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc")
    assert twice.ready and gunicorn_agrees(twice) == []


def test_malformed_chunks_are_refused() -> None:
    for body in (
        b"zz\r\nab\r\n",
        b"-2\r\nab\r\n",
        b"0x2\r\nab\r\n",
        b"2 ;a=b\r\nab\r\n",
        b"2\r\nabc\r\n",
        b"f" * (MAX_HEAD_BYTES + 1),
        b"0\r\n" + b"X: " + b"a" * MAX_HEAD_BYTES,
    ):
        buffer = RequestBuffer(LIMIT, HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + body)
        assert buffer.refusal is not None and buffer.refusal.status == 400, body[:20]
    # a huge chunk is refused once its bytes pass the limit, before it ends
    huge = RequestBuffer(LIMIT, HEAD + b"Transfer-Encoding: chunked\r\n\r\nffffffffffff\r\n")
    assert huge.refusal is None and not huge.ready
    huge.feed(b"a" * LIMIT)
    assert huge.refusal is None
    huge.feed(b"a")
    assert huge.refusal is not None and huge.refusal.status == 413


def test_a_head_that_does_not_end_is_refused_past_the_limit() -> None:
    buffer = RequestBuffer(LIMIT, b"GET / HTTP/1.1\r\n")
    while not buffer.refusal:
        assert buffer.held <= MAX_HEAD_BYTES
        buffer.feed(b"X-Long: " + b"a" * 1000 + b"\r\n")
    assert buffer.refusal.status == 431


def test_a_head_h11_refuses_is_answered_here_with_its_body_unread() -> None:
    for head in (
        b"NONSENSE\r\nContent-Length: 5\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",  # HTTP/1.1 without Host
        b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX : a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n",
        b"\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",  # one empty line is allowed, not two
    ):
        buffer = RequestBuffer(LIMIT, head)
        assert buffer.refusal is not None and buffer.refusal.status == 400, head
