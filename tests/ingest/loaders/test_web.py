"""Web pages are dated only by what they state about themselves (``tests/data/pages/``): a meta
tag, a byline or a dateline; every page carries a copyright footer, which is never a date."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from support import TEST_DATA

from qa.ingest.load import load_file
from qa.ingest.loaders.web import extract_web_page
from qa.ingest.metadata import extract_date

PAGES = TEST_DATA / "pages"


@pytest.mark.parametrize(
    ("name", "date"),
    [
        ("dated-meta.html", "2014-03-17"),  # <meta property="article:published_time">
        ("dated-byline.html", "2014-03-18"),  # "By Mira Kessel | 18 March 2014"
        ("dated-dateline.html", "2014-03-19"),  # "PORT ELLERY, March 19, 2014 (...) -"
        ("undated-copyright.html", None),  # only "Copyright 2025 Velmora Gazette"
    ],
)
def test_a_page_is_dated_by_what_it_states_and_never_by_its_copyright(
    name: str, date: str | None
) -> None:
    (doc,) = load_file(PAGES / name)
    assert doc.date == date
    assert "Tomas Brandvold" in doc.text


def test_the_current_year_alone_is_no_date(tmp_path: Path) -> None:
    year = datetime.date.today().year
    markup = (PAGES / "undated-copyright.html").read_text(encoding="utf-8")
    markup = markup.replace("Copyright 2025", f"© {year}").replace(
        "</article>", f"<p>Posted in {year}.</p></article>"
    )
    assert extract_web_page(markup).meta.date is None
    path = tmp_path / "this-year.html"
    path.write_text(markup, encoding="utf-8")
    (doc,) = load_file(path)
    assert doc.date is None


def test_a_copyright_line_at_the_top_of_a_text_is_no_date() -> None:
    assert extract_date("Copyright 2024-01-05 Velmora Gazette\nFerry news\nText.") is None
    assert extract_date("© 2025 Velmora Gazette\nPublished: 18 March 2014\nText.") == "2014-03-18"
