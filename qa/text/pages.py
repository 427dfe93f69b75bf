"""Pages of a document. A PDF's text keeps its page breaks as form feeds (``\\f``, the character
``pdftotext`` also uses), so the page of any offset follows from the text itself and the store
needs nothing more than the text it already keeps."""

from __future__ import annotations

PAGE_BREAK = "\f"
#: documents whose text is split into pages by :data:`PAGE_BREAK`
PAGED_SUFFIXES = (".pdf",)


def is_paged(path: str | None) -> bool:
    return bool(path) and str(path).lower().endswith(PAGED_SUFFIXES)


def join_pages(pages: list[str]) -> str:
    """One text for all pages; a page break starts a new line, so no sentence or answer runs
    from one page into the next."""
    return ("\n" + PAGE_BREAK).join(page.rstrip() for page in pages)


def page_starts(text: str) -> list[int]:
    """Offset where each page begins: ``[0, ...]``."""
    starts = [0]
    pos = text.find(PAGE_BREAK)
    while pos != -1:
        starts.append(pos + 1)
        pos = text.find(PAGE_BREAK, pos + 1)
    return starts


def page_at(starts: list[int], offset: int) -> int:
    """The 1-based page holding ``offset``."""
    from bisect import bisect_right

    return max(bisect_right(starts, offset), 1)


def page_in(text: str, start_page: int, offset: int) -> int:
    """The page of ``offset`` in a slice of a document (``text``) that begins on ``start_page``."""
    return start_page + text.count(PAGE_BREAK, 0, max(offset, 0))
