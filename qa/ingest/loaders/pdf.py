"""PDF files by pypdf: the text layer of every page, page breaks kept (see :mod:`qa.text.pages`).

A PDF that gives no text is reported, never indexed empty: a password-protected one, a scan
without a text layer (OCR is out of scope), or a file pypdf cannot parse."""

from __future__ import annotations

import io
import logging

from qa.ingest.loaders import Extracted, ExtractError
from qa.text.pages import join_pages
from qa.types import Meta


def _meta(value: object) -> str | None:
    return " ".join(value.split()) or None if isinstance(value, str) else None


def extract_pdf(data: bytes) -> Extracted:
    from pypdf import PdfReader

    # pypdf logs every oddity of a damaged file as a warning; what matters is reported instead
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                # files locked only against editing open with an empty user password
                opened = bool(reader.decrypt(""))
            except Exception:  # an encryption the installed crypto backend cannot undo
                opened = False
            if not opened:
                raise ExtractError("encrypted PDF: it needs a password")
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata
    except ExtractError:
        raise
    except Exception as exc:  # pypdf raises many types on damaged files; each is a broken file
        raise ExtractError(f"broken PDF: {exc or type(exc).__name__}") from None
    if not pages:
        raise ExtractError("PDF has no pages")
    if not any(page.strip() for page in pages):
        raise ExtractError("no text layer in the PDF (a scan? text would need OCR)")
    return Extracted(
        text=join_pages(pages),
        meta=Meta(title=(_meta(info.title) if info else None) or ""),
        author=_meta(info.author) if info else None,
    )
