"""Highlighting builds HTML from untrusted text: escaped pieces, well-formed nesting."""

from __future__ import annotations

from html.parser import HTMLParser

from qa.web.render import Mark, highlight


class _Balance(HTMLParser):
    """Collects the text and checks every end tag closes the innermost open tag."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text: list[str] = []
        self.ids: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack.append(tag)
        self.ids += [v or "" for k, v in attrs if k == "id"]

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack.pop() == tag

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(markup: str) -> _Balance:
    parser = _Balance()
    parser.feed(markup)
    parser.close()
    assert parser.stack == []
    return parser


def test_text_is_escaped_and_round_trips() -> None:
    text = 'a <script>alert("x")</script> & b'
    out = highlight(text, [Mark(2, 10, css="answer")])
    assert "<script>" not in out
    assert str(out).startswith('a <mark class="answer">&lt;script&gt;</mark>')
    assert "".join(parse(out).text) == text


def test_overlapping_marks_nest_properly_and_anchor_once() -> None:
    text = "0123456789abcdefghij"
    marks = [
        Mark(0, 4, "span", "aside"),
        Mark(2, 12, "span", "passage", anchor="passage"),
        Mark(8, 15, css="answer", anchor="answer"),
    ]
    out = highlight(text, marks)
    parsed = parse(out)
    assert "".join(parsed.text) == text
    assert parsed.ids == ["passage", "answer"]
    assert '<span class="passage"><mark class="answer" id="answer">89ab</mark></span>' in out


def test_marks_outside_the_text_or_empty_are_ignored() -> None:
    assert highlight("abc", [Mark(5, 9), Mark(1, 1), Mark(2, 1)]) == "abc"
    assert highlight("abc", [Mark(-3, 2)]) == "<mark>ab</mark>c"
    assert highlight("", [Mark(0, 0)]) == ""
