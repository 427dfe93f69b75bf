"""Web pages: the main text of an article and its metadata, by trafilatura (dates by htmldate,
which trafilatura calls, limited to what the page states: see ``DATE_PARAMS``). Navigation,
share widgets, comment sections and footers are left out by the library, so the text is indexed
as extracted, without our line cleaner."""

from __future__ import annotations

from qa.ingest.loaders import Extracted, ExtractError
from qa.ingest.metadata import parse_date
from qa.types import Meta

#: htmldate (through trafilatura) reads the dates a page states about itself: its metadata,
#: structured data, ``<time>`` elements and bylines. Its extensive search, which trafilatura turns
#: on, goes on to any year in the text and takes a copyright footer's "2025" for 2025-01-01; a
#: page that states no date has none (datelines in the text are read by ``qa.ingest.metadata``).
DATE_PARAMS = {"extensive_search": False, "original_date": True}

#: elements a browser never shows, which the library does not look for by itself
_HIDDEN = [
    "//*[@hidden]",
    "//*[contains(translate(@style, ' ', ''), 'display:none')]",
]


def _clean(value: str | None) -> str | None:
    return " ".join(value.split()) or None if value else None


def extract_web_page(markup: str) -> Extracted:
    """The article of one HTML page, with the library's default balance of precision and recall;
    readers' comments are never article text."""
    import trafilatura
    from lxml import etree
    from lxml import html as lxml_html

    # Parsed here rather than by the library so that a fragment ("<p>Text</p>", no <html>) is a
    # page too; bytes, because lxml refuses a str that declares its own encoding.
    try:
        tree = lxml_html.document_fromstring(
            markup.encode("utf-8"), parser=lxml_html.HTMLParser(encoding="utf-8")
        )
    except (etree.LxmlError, ValueError):
        raise ExtractError("no article text found in the HTML page") from None
    found = trafilatura.bare_extraction(
        tree,
        include_comments=False,
        with_metadata=True,
        prune_xpath=_HIDDEN,
        date_extraction_params=dict(DATE_PARAMS),
    )
    text = (found.text or "").strip() if isinstance(found, trafilatura.settings.Document) else ""
    if not text:
        raise ExtractError("no article text found in the HTML page")
    assert isinstance(found, trafilatura.settings.Document)
    meta = Meta(
        title=_clean(found.title) or "",
        source=_clean(found.sitename),
        date=parse_date(found.date) if found.date else None,
        url=_clean(found.url),
    )
    return Extracted(text=text, meta=meta, author=_clean(found.author))
