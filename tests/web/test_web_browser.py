"""The web form in a real browser: Debian's Chromium driven by Playwright, against ``qa serve``.

Skipped only when Chromium is missing on a developer machine; on CI (``CI=true``) that fails.
"""

from __future__ import annotations

import io
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


def test_add_documents_in_the_browser_then_ask_and_see_the_highlight(
    browser: Any, live_server: Any
) -> None:
    """Upload through the page (token, progress, report), a wrong token that adds nothing, then
    ask about the new article and follow the citation to the highlighted span."""
    import docx
    from playwright.sync_api import expect

    token = "live-token-5678"
    story = (
        "Harbour news\n\nThe lighthouse keeper of Port Ellery is Tomas Brandvold. "
        "He has kept the light burning since 1998.\n\n"
        + "Ships pass the point every day in summer. " * 1000  # 42 kB: a visible upload
    )
    out = io.BytesIO()
    word = docx.Document()
    word.add_paragraph("The night ferry to Skerry Island leaves at 23:40 from May.")
    word.save(out)
    files = [
        {"name": "lighthouse.txt", "mimeType": "text/plain", "buffer": story.encode()},
        {"name": "ferry.docx", "mimeType": "application/octet-stream", "buffer": out.getvalue()},
    ]
    context = browser.new_context(viewport={"width": 1000, "height": 800})
    page = context.new_page()
    page.goto(live_server.url + "/")
    page.click("text=Add documents")
    page.wait_for_url("**/add")

    page.fill("#token", "not-the-token")
    page.set_input_files("#files", files)
    page.click("form.upload button[type=submit]")
    expect(page.locator(".upload-status.error")).to_contain_text("Nothing was added")
    expect(page.locator("section.upload-report")).to_be_hidden()

    # a file over the limit (the server's default 10 MiB) is named before anything is sent
    big = {"name": "big.txt", "mimeType": "text/plain", "buffer": b"x" * (10 * 2**20 + 1)}
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.fill("#token", token)
    page.set_input_files("#files", [*files, big])
    page.click("form.upload button[type=submit]")
    status = page.locator(".upload-status.error")
    expect(status).to_contain_text("Nothing was sent: big.txt (10.0 MiB) is over the limit")
    assert not posts

    page.fill("#token", token)
    page.set_input_files("#files", files)
    page.click("form.upload button[type=submit]")
    expect(page.locator(".upload-status.ok")).to_contain_text("Done", timeout=120_000)
    expect(page.locator("dd.added")).to_contain_text("lighthouse")
    expect(page.locator("dd.added")).to_contain_text("ferry")
    expect(page.locator("dd.refused")).to_have_text("none")
    assert page.locator("progress.upload-progress").get_attribute("value") == "100"
    page.screenshot(path=str(ARTIFACTS / "add-documents.png"), full_page=True)

    page.goto(live_server.url + "/")
    page.fill("input[name=q]", "Who is the lighthouse keeper of Port Ellery?")
    page.click("button[type=submit]")
    page.wait_for_url("**/?q=*")
    expect(page.locator("h1.answer-text")).to_contain_text("Tomas Brandvold")
    page.locator("a.citation").first.click()
    page.wait_for_url("**/documents/lighthouse?*")
    answer = page.locator("mark#answer")
    expect(answer).to_contain_text("Tomas Brandvold")
    expect(answer).to_be_in_viewport()
    context.close()
