"""Highlighted HTML built from document text without ever trusting it.

Every piece of text goes through ``markupsafe.escape``; only the tags added here are markup. Marks
may overlap or nest (an answer inside its passage, a passage crossing a boilerplate region), so the
text is cut at every mark boundary and each piece is wrapped in the tags of the marks covering it:
nesting is then always well formed.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from markupsafe import Markup, escape


@dataclass(frozen=True)
class Mark:
    """Wrap ``text[start:end]`` in ``<tag class=css>``; ``anchor`` puts an ``id`` on the first
    piece so ``#anchor`` scrolls to it."""

    start: int
    end: int
    tag: str = "mark"
    css: str = ""
    anchor: str = ""


def highlight(text: str, marks: list[Mark]) -> Markup:
    n = len(text)
    marks = [
        Mark(max(0, m.start), min(n, m.end), m.tag, m.css, m.anchor)
        for m in marks
        if m.end > m.start and m.start < n and m.end > 0
    ]
    cuts = sorted({0, n, *(m.start for m in marks), *(m.end for m in marks)})
    anchored: set[str] = set()
    out = [Markup("")]
    for a, b in itertools.pairwise(cuts):
        piece: Markup = escape(text[a:b])
        # marks listed first end up outermost
        for mark in reversed([m for m in marks if m.start <= a and b <= m.end]):
            attrs = Markup("")
            if mark.css:
                attrs += Markup(' class="{}"').format(mark.css)
            if mark.anchor and mark.anchor not in anchored:
                anchored.add(mark.anchor)
                attrs += Markup(' id="{}"').format(mark.anchor)
            piece = Markup("<{tag}{attrs}>{piece}</{tag}>").format(
                tag=Markup(mark.tag), attrs=attrs, piece=piece
            )
        out.append(piece)
    return Markup("").join(out)
