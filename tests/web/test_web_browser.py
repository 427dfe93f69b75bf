"""The web form in a real browser: Debian's Chromium driven by Playwright, against ``qa serve``.

Skipped only when Chromium is missing on a developer machine; on CI (``CI=true``) that fails.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import CHAIRMAN, CHAIRMAN_DOC, CHAIRMAN_Q, ROOT

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "tests" / "artifacts"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: apt-get install -y chromium"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield browser
        finally:
            browser.close()


def test_ask_in_the_browser_and_follow_the_citation(browser: Any, live_server: Any) -> None:
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1000, "height": 800})
    page = context.new_page()
    csp_errors: list[str] = []
    page.on(
        "console",
        lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.goto(live_server.url + "/")
    page.fill("input[name=q]", CHAIRMAN_Q)
    page.click("button[type=submit]")
    page.wait_for_url("**/?q=*")

    expect(page.locator("blockquote.sentence mark.answer")).to_contain_text(CHAIRMAN)
    expect(page.locator("h1.answer-text")).to_contain_text(CHAIRMAN)
    citation = page.locator("a.citation").first
    href = citation.get_attribute("href") or ""
    assert href.startswith(f"/documents/{CHAIRMAN_DOC}?") and href.endswith("#answer")
    page.screenshot(path=str(ARTIFACTS / "answer.png"), full_page=True)

    citation.click()
    page.wait_for_url(f"**/documents/{CHAIRMAN_DOC}?*")
    answer = page.locator("mark#answer")
    expect(answer).to_contain_text(CHAIRMAN)
    expect(answer).to_be_in_viewport()
    expect(page.locator("#passage")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "document.png"))
    assert csp_errors == []  # the static stylesheet and script load under the strict CSP
    context.close()


def test_the_form_works_without_javascript(browser: Any, live_server: Any) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(live_server.url + "/")
    page.fill("input[name=q]", CHAIRMAN_Q)
    page.press("input[name=q]", "Enter")
    page.wait_for_url("**/?q=*")
    expect(page.locator("mark.answer").first).to_contain_text(CHAIRMAN)
    context.close()
