"""Word files (``.docx``) by python-docx: paragraphs and table rows in document order, one line
each; title and author from the file's properties."""

from __future__ import annotations

import io

from qa.ingest.loaders import Extracted, ExtractError
from qa.types import Meta


def _lines(document: object) -> list[str]:
    from docx.table import Table

    lines: list[str] = []
    for block in document.iter_inner_content():  # type: ignore[attr-defined]
        if isinstance(block, Table):
            for row in block.rows:
                # a merged cell is repeated in every row cell it spans
                cells = list(dict.fromkeys(c.text.strip() for c in row.cells))
                lines.append(" | ".join(c for c in cells if c))
        else:
            lines.append(block.text)
    return [line.rstrip() for line in lines]


def extract_docx(data: bytes) -> Extracted:
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
        lines = _lines(document)
        props = document.core_properties
    except Exception as exc:  # zipfile, lxml and python-docx errors all mean a broken file
        raise ExtractError(f"broken Word file: {exc or type(exc).__name__}") from None
    text = "\n".join(lines).strip()
    if not text:
        raise ExtractError("no text in the Word file")
    return Extracted(
        text=text,
        meta=Meta(title=" ".join((props.title or "").split())),
        author=" ".join((props.author or "").split()) or None,
    )
