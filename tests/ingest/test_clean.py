"""Boilerplate marking: the seeds' known furniture goes, every article sentence stays, and the
regions are always a valid, sorted partition of part of the text (offsets are never rewritten)."""

from __future__ import annotations

import re

import pytest
from support import SEEDS

from qa.ingest.clean import classify, content_regions, is_ui_token_line, is_widget_line

SEED_TEXTS = {p.stem: p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))}


def _span(text: str, snippet: str, occurrence: int = 0) -> tuple[int, int]:
    starts = [m.start() for m in re.finditer(re.escape(snippet), text)]
    assert len(starts) > occurrence, f"{snippet!r} not in text"
    return starts[occurrence], starts[occurrence] + len(snippet)


def is_kept(text: str, snippet: str, occurrence: int = 0) -> bool:
    s, e = _span(text, snippet, occurrence)
    return any(a <= s and e <= b for a, b in content_regions(text))


def is_dropped(text: str, snippet: str, occurrence: int = 0) -> bool:
    s, e = _span(text, snippet, occurrence)
    return all(e <= a or b <= s for a, b in content_regions(text))


def assert_valid_regions(text: str, regions: list[tuple[int, int]]) -> None:
    previous_end = -1
    for start, end in regions:
        assert 0 <= start < end <= len(text)
        assert start > previous_end  # sorted, non-overlapping, not touching (they would merge)
        assert not text[start].isspace() and not text[end - 1].isspace()
        previous_end = end


def test_seeds_are_the_five_articles() -> None:
    assert len(SEED_TEXTS) == 5


@pytest.mark.parametrize("stem", sorted(SEED_TEXTS))
def test_seed_regions_are_valid(stem: str) -> None:
    text = SEED_TEXTS[stem]
    regions = content_regions(text)
    assert regions
    assert_valid_regions(text, regions)


@pytest.mark.parametrize("stem", sorted(SEED_TEXTS))
def test_no_prose_line_of_a_seed_is_lost(stem: str) -> None:
    """Every line that reads as prose (a long line ending like a sentence) is kept, except the
    comment-system notice at the end of seed 004."""
    text = SEED_TEXTS[stem]
    for line in classify(text):
        prose = len(line.text) > 60 and line.text.rstrip("”\"'").endswith((".", "?", "!"))
        if prose and line.verdict != "keep":
            assert stem.startswith("004") and line.verdict == "site-notice", line.text


def test_seed_004_icon_run_notice_and_repeated_headline_are_dropped() -> None:
    text = SEED_TEXTS["004_ac8b6d61d6b7d856"]
    assert is_dropped(text, "icon bookmark-bicon bookmarkicon cameraicon")
    assert is_dropped(text, "icon fm")
    assert is_dropped(text, "Dear readers and commenters,")
    assert is_dropped(text, "We have implemented a new engine for our comment section.")
    assert is_dropped(text, "Sorry for the inconvenience")
    assert is_dropped(text, "RT Team.")
    headline = "Russia, Caucasus allies to form ‘security outline’ to counter NATO"
    assert is_kept(text, headline, 0) and is_dropped(text, headline, 1)
    for sentence in (
        "Russia, Abkhazia and South Ossetia may soon enter a trilateral treaty",
        "the Collective Security Treaty Organization",
        "had recently signed the association agreement with the EU.",
        "starting the operation with an attack on Russian peacekeepers.",
        "recognized Abkhazia and South Ossetia as independent states.",
    ):
        assert is_kept(text, sentence), sentence


def test_seed_001_widgets_and_duplicated_caption_are_dropped() -> None:
    text = SEED_TEXTS["001_bd319fea323e537e"]
    assert is_dropped(text, "Facebook Comments")
    assert is_dropped(text, "Click here for reuse options!")
    assert is_dropped(text, "Copyright 2015 The Sentinel")
    caption = "Russian tanks in South Ossetia"
    assert is_kept(text, caption, 0) and is_dropped(text, caption, 1)
    for sentence in (
        "South Ossetia Could Join Russia",
        "What I mean by a “soft” annexation",
        "Tibilov became the 3rd President of South Ossetia in 2012",
        "maintaining thousands of troops in the region.",
        "Meanwhile, make sure you follow me on Twitter",
        "Jonathan Wade, CD",
        "a decorated veteran of the Canadian Forces.",
        "Jonathan writes about Russia, Canada and Arctic.",
    ):
        assert is_kept(text, sentence), sentence


def test_seed_003_navigation_dropped_dateline_kept() -> None:
    text = SEED_TEXTS["003_ae8961adcff38b97"]
    assert is_dropped(text, "All news")
    assert is_kept(text, "Russia-South Ossetia alliance treaty shapes common defense space")
    assert is_kept(text, "MOSCOW, March 18. /TASS/. The treaty on alliance and integration")
    assert is_kept(text, "Moscow and Tskhinval will conduct a coordinated foreign policy.")


def test_seed_000_keeps_all_prose_but_not_the_date_label() -> None:
    text = SEED_TEXTS["000_5f0f8e843e26db9e"]
    assert is_dropped(text, "date 2024-03-17")
    assert is_kept(text, "Amidst geopolitical shifts, South Ossetia's potential annexation")
    assert is_kept(text, "Alan Alborov, the chairman of the occupied Tskhinvali parliament")
    assert is_kept(text, "Coordinated Foreign Policy and Referendum Talks")
    assert content_regions(text)[-1][1] == len(text.rstrip())


def test_seed_002_is_kept_whole() -> None:
    """No boilerplate in 002: its headings, photo captions and source line all stay."""
    text = SEED_TEXTS["002_2d6e83c6a40a146a"]
    assert content_regions(text) == [(0, len(text.rstrip()))]


# -- the rules on text that is not a seed ---------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "Share this article",
        "Follow us on Twitter",
        "Sign up for our newsletter",
        "Read more",
        "12 comments",
        "Top stories",
        "Advertisement",
        "© 2020 Acme Media. All rights reserved.",
        "* * *",
    ],
)
def test_widget_lines(line: str) -> None:
    assert is_widget_line(line)


@pytest.mark.parametrize(
    "line",
    [
        "Share prices tumble",
        "How to sign up for Medicare",
        "Follow the money",
        "More than 100 killed in floods",
        "He left.",
        "Why?",
        "Photo: Reuters",
        "We need to talk about Facebook comments",
        "Alborov's statements to RIA Novosti underline a significant development.",
    ],
)
def test_headings_and_short_sentences_are_not_widgets(line: str) -> None:
    assert not is_widget_line(line) and not is_ui_token_line(line)


def test_ui_token_runs() -> None:
    assert is_ui_token_line("home news sport business video weather login register menu")
    assert is_ui_token_line("closeicon downloadicon editicon fbicon fileicon share")
    assert not is_ui_token_line("the quick brown fox jumps over the lazy dog")
    assert not is_ui_token_line("Icon of the week: the Kremlin")


def test_repeat_is_dropped_only_right_after_itself() -> None:
    text = "Title\n\nTitle\nA line.\nAnother line.\nA line.\n"
    regions = content_regions(text)
    kept = [text[s:e] for s, e in regions]
    assert kept == ["Title", "A line.\nAnother line.\nA line."]


def test_news_about_accounts_is_not_a_site_notice() -> None:
    """Notice vocabulary without the site speaking to its readers is reporting, not a notice."""
    body = "The breach hit millions of users across the country last year.\n\n" * 3
    last = (
        "The company said users whose accounts were affected can log in, change the password "
        "in their profile and contact the registration desk, while moderators review comments."
    )
    text = body + last
    assert content_regions(text)[-1][1] == len(text)


def test_crlf_text_keeps_offsets_into_the_raw_text() -> None:
    text = " Headline\r\n\r\nFirst sentence here.\r\nShare this\r\nSecond one.\r\n"
    regions = content_regions(text)
    assert_valid_regions(text, regions)
    assert [text[s:e] for s, e in regions] == [
        "Headline\r\n\r\nFirst sentence here.",
        "Second one.",
    ]


@pytest.mark.parametrize("text", ["", "   \n\t\n", "Share this\nFollow us on Twitter\n"])
def test_nothing_to_keep_gives_no_regions(text: str) -> None:
    assert content_regions(text) == []
