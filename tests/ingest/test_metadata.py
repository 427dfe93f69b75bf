"""Title, date and source read from the article text: the seeds, and each rule on its own."""

from __future__ import annotations

import pytest
from support import SEEDS

from qa.ingest.clean import content_regions
from qa.ingest.metadata import (
    extract_date,
    extract_metadata,
    extract_source,
    extract_title,
    parse_date,
)


def seed_meta(stem: str) -> dict[str, str | None]:
    path = SEEDS / f"{stem}.txt"
    text = path.read_text(encoding="utf-8")
    return extract_metadata(text, content_regions(text), str(path))


def test_seed_000_date_label_and_a_title_made_from_the_first_sentence() -> None:
    meta = seed_meta("000_5f0f8e843e26db9e")
    assert meta["date"] == "2024-03-17"
    title = meta["title"]
    assert title is not None
    assert title.startswith("Amidst geopolitical shifts, South Ossetia")
    assert title.endswith("...") and len(title) <= 110
    assert not title[:-3].endswith(" ")  # cut at a word boundary, not mid-word
    assert meta["source"] is None  # RIA Novosti is quoted, not the publisher


def test_seed_001_copyright_line_names_the_source() -> None:
    meta = seed_meta("001_bd319fea323e537e")
    assert meta == {
        "title": "South Ossetia Could Join Russia",
        "date": None,
        "source": "The Sentinel",
    }


def test_seed_002_source_is_the_closing_attribution_not_agencies_quoted() -> None:
    meta = seed_meta("002_2d6e83c6a40a146a")
    assert meta["source"] == "VOV"
    assert meta["title"] == 'The West is "crazy" because South Ossetia could be the next Crimea.'
    assert meta["date"] is None  # "March 18" has no year


def test_seed_003_dateline_agency_and_no_year_means_no_date() -> None:
    meta = seed_meta("003_ae8961adcff38b97")
    assert meta["source"] == "TASS"
    assert meta["date"] is None
    assert meta["title"] == (
        "Russia-South Ossetia alliance treaty shapes common defense space, says republic’s leader"
    )


def test_seed_004_sign_off_names_the_source_and_title_skips_the_icon_run() -> None:
    meta = seed_meta("004_ac8b6d61d6b7d856")
    assert meta["source"] == "RT"
    assert meta["title"] == "Russia, Caucasus allies to form ‘security outline’ to counter NATO"
    assert meta["date"] is None


# -- dates ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "iso"),
    [
        ("2014-03-18", "2014-03-18"),
        ("2014-03-18T10:00:00+03:00", "2014-03-18"),
        ("March 18, 2014", "2014-03-18"),
        ("Mar. 18 2014", "2014-03-18"),
        ("18 March 2014", "2014-03-18"),
        ("Tuesday, 18th of March, 2014", "2014-03-18"),
        ("2014-02-30", None),
        ("March 18", None),
        ("soon", None),
        ("", None),
    ],
)
def test_parse_date(value: str, iso: str | None) -> None:
    assert parse_date(value) == iso


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("Published: 18 March 2014\nHeadline\nBody.", "2014-03-18"),
        ("Headline\nBy Jo Smith | March 18, 2014\nBody.", "2014-03-18"),
        ("WASHINGTON, March 18, 2014 (Reuters) - Talks began.", "2014-03-18"),
        ("2024-03-17 Moscow said on Monday that talks began.", "2024-03-17"),
        ("MOSCOW, March 18. /TASS/. Talks began.", None),
        # an event date inside a sentence is not the article's date
        ("Headline\nThe war began on August 8, 2008 and lasted five days.", None),
        ("Headline\n" + "Body.\n" * 10 + "Updated March 18, 2014", None),  # not near the top
    ],
)
def test_extract_date(text: str, iso: str | None) -> None:
    assert extract_date(text) == iso


# -- sources --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "source"),
    [
        ("WASHINGTON (Reuters) - The US said so.\nMore text.", "Reuters"),
        ("KYIV, March 3 /AP/ - Talks began.", "AP"),
        ("Headline\nBody.\nSource: BBC News", "BBC News"),
        ("Headline\nBody.\n© 2020 Acme Media. All rights reserved.", "Acme Media"),
        ("Headline\nBody text.\nThe Daily Planet Team", "Daily Planet"),
        ("Headline\nBody text.\nThe Editors", None),
        ("Headline\nReuters quoted officials on Monday.\nAFP said so too.", None),
        ("Headline\nEnd.\nAccording to Mr. Smith, the plan failed for many reasons.", None),
    ],
)
def test_extract_source(text: str, source: str | None) -> None:
    assert extract_source(text) == source


# -- titles ---------------------------------------------------------------------------------------


def test_markdown_heading_loses_its_marks() -> None:
    text = "\n## Treaty signed  \n\nBody sentence."
    assert extract_title(text, content_regions(text)) == "Treaty signed"


def test_title_comes_from_content_not_boilerplate() -> None:
    text = "Share this\nFollow us on Twitter\nReal headline\n\nBody."
    assert extract_title(text, content_regions(text)) == "Real headline"


def test_title_falls_back_to_the_file_name() -> None:
    assert extract_title("Share this", [], "/data/my-article.txt") == "my-article"
    assert extract_title("Share this", [], None) == ""


def test_long_first_line_without_sentence_end_is_cut() -> None:
    text = "The council met again and " * 20
    title = extract_title(text, content_regions(text))
    assert title.endswith("...") and len(title) <= 103
