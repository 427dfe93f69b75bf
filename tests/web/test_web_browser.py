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
from support import CHAIRMAN, CHAIRMAN_DOC, CHAIRMAN_Q, LIVE_TOKEN, ROOT, SEEDS_DEV

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
    missing: list[str] = []  # the favicon among them, before there was one
    page.on("response", lambda r: missing.append(r.url) if r.status >= 400 else None)
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
    assert missing == []
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


def no_sideways_scroll(page: Any) -> None:
    width, shown = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert width <= shown, f"{page.url} is {width} px wide in a {shown} px window"


def test_add_documents_in_the_browser_then_ask_and_see_the_highlight(
    browser: Any, live_server: Any
) -> None:
    """Upload through the page: a wrong token, a file over the limit and a file it cannot read
    each add nothing and say why in plain words, resetting the progress bar; then the upload
    itself, with the documents counted and linked. Then ask about the new article and follow
    the citation to the highlighted span."""
    import docx
    from playwright.sync_api import expect

    story = (
        "Harbour news\n\nThe lighthouse keeper of Port Ellery is Tomas Brandvold. "
        "He has kept the light burning since 1998.\n\n"
        + "Ships pass the point every day in summer. "
        * 1000  # 42 kB: a visible upload
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

    # the same look as the ask form: its button and its text box
    def looks(selector: str) -> list[str]:
        return page.eval_on_selector(
            selector,
            "e => { const s = getComputedStyle(e); return [s.backgroundColor, s.color, "
            "s.borderRadius, s.fontWeight, s.paddingTop, s.borderTopColor]; }",
        )

    upload_button, token_box = looks("form.upload button"), looks("#token")
    page.goto(live_server.url + "/")
    assert looks("form.ask button") == upload_button
    assert looks("form.ask input[name=q]") == token_box
    page.goto(live_server.url + "/add")
    page.screenshot(path=str(ARTIFACTS / "add-before.png"), full_page=True)

    status = page.locator(".upload-status")
    bar = page.locator("progress.upload-progress")
    problems = page.locator(".upload-problems")
    page.fill("#token", "not-the-token")
    page.set_input_files("#files", files)
    page.click("form.upload button[type=submit]")
    expect(status).to_have_text(
        "Nothing was added: that is not this server's API token. Check it and try again."
    )
    expect(status).to_have_class("upload-status error")
    expect(page.locator("section.upload-report")).to_be_hidden()
    expect(bar).to_be_hidden()  # the bar went to 100 % while the files were sent
    assert bar.get_attribute("value") == "0"

    # a file over the limit (the server's default 10 MiB) is named before anything is sent
    big = {"name": "big.txt", "mimeType": "text/plain", "buffer": b"x" * (10 * 2**20 + 1)}
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.fill("#token", LIVE_TOKEN)
    page.set_input_files("#files", [*files, big])
    page.click("form.upload button[type=submit]")
    expect(status).to_have_text(
        "Nothing was sent: big.txt (10.0 MiB) is over the limit of 10.0 MiB per file."
    )
    assert not posts

    # a file the server cannot read: the whole upload is refused, and the file is listed
    csv = {"name": "data.csv", "mimeType": "text/csv", "buffer": b"a,b\n1,2\n"}
    page.set_input_files("#files", [*files, csv])
    page.click("form.upload button[type=submit]")
    expect(status).to_have_text("Nothing was added: this file could not be read.")
    expect(problems.locator("li")).to_have_count(1)
    expect(problems).to_contain_text("data.csv: unsupported file type '.csv'")
    expect(bar).to_be_hidden()
    page.screenshot(path=str(ARTIFACTS / "add-error.png"), full_page=True)
    message = status.inner_text() + problems.inner_text()
    assert "Bearer" not in message and "nothing was added" not in message.lower()[1:]

    page.set_input_files("#files", files)
    page.click("form.upload button[type=submit]")
    expect(page.locator(".upload-status.ok")).to_have_text(
        "Done: 2 documents added, 0 replaced, 0 unchanged.", timeout=120_000
    )
    expect(problems).to_be_hidden()
    added = page.locator("dd.added a")
    expect(added).to_have_count(2)
    assert sorted(added.all_inner_texts()) == ["ferry", "lighthouse"]
    assert sorted(a.get_attribute("href") for a in added.all()) == [
        "/documents/ferry",
        "/documents/lighthouse",
    ]
    expect(page.locator(".count.added")).to_have_text("(2)")
    expect(page.locator("dd.replaced")).to_have_text("none")
    assert bar.get_attribute("value") == "100"
    page.screenshot(path=str(ARTIFACTS / "add-after.png"), full_page=True)

    # the same files again change nothing, and say so
    page.click("form.upload button[type=submit]")
    expect(page.locator(".upload-status.ok")).to_have_text(
        "Done: 0 documents added, 0 replaced, 2 unchanged.", timeout=120_000
    )
    page.locator("dd.unchanged a", has_text="lighthouse").click()
    page.wait_for_url("**/documents/lighthouse")
    expect(page.locator("h1.doc-title")).to_have_text("Harbour news")

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


def test_the_api_page_renders_the_spec_with_nothing_from_outside(
    browser: Any, live_server: Any
) -> None:
    """The form's "API" link opens Swagger UI on the spec; every request the page makes goes to
    this server, and the strict CSP refuses nothing the page needs."""
    from playwright.sync_api import expect

    from qa.web.ops import openapi_spec

    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.add_init_script(
        "window.__csp = []; document.addEventListener('securitypolicyviolation',"
        " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    requests: list[str] = []
    failures: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: failures.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: failures.append(str(e)))
    page.on("response", lambda r: failures.append(r.url) if r.status >= 400 else None)
    page.goto(live_server.url + "/")
    page.click("header.site >> text=API")
    page.wait_for_url("**/docs")
    operations = sum(
        method in {"get", "post", "put", "delete", "patch"}
        for item in openapi_spec()["paths"].values()
        for method in item
    )
    expect(page.locator(".opblock")).to_have_count(operations, timeout=60_000)
    expect(page.locator(".info .title")).to_contain_text(openapi_spec()["info"]["title"])
    page.locator(".opblock-summary", has_text="/api/ask").first.click()
    expect(page.locator(".opblock-body").first).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "docs.png"))

    assert requests and all(
        url.startswith(f"{live_server.url}/") or url.startswith("data:") for url in requests
    ), [url for url in requests if not url.startswith(live_server.url)]
    assert page.evaluate("window.__csp") == []
    assert failures == []
    context.close()


def test_a_phone_width_shows_every_page_without_sideways_scrolling(
    browser: Any, live_server: Any, seeds_index_dir: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    from qa.cli import main

    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(live_server.url + "/")
    no_sideways_scroll(page)
    page.fill("input[name=q]", CHAIRMAN_Q)
    page.click("button[type=submit]")
    page.wait_for_url("**/?q=*")
    expect(page.locator("h1.answer-text")).to_contain_text(CHAIRMAN)
    expect(page.locator("h1.answer-text")).to_be_in_viewport()
    no_sideways_scroll(page)
    page.screenshot(path=str(ARTIFACTS / "answer-390.png"), full_page=True)
    page.locator("a.citation").first.click()
    page.wait_for_url(f"**/documents/{CHAIRMAN_DOC}?*")
    no_sideways_scroll(page)
    for path in ("/add", "/docs"):
        page.goto(live_server.url + path)
        no_sideways_scroll(page)
    expect(page.locator(".opblock").first).to_be_visible(timeout=60_000)
    no_sideways_scroll(page)

    # the evaluation report, with its plots and its table of misses
    report = tmp_path / "report"
    args = ["--index-dir", str(seeds_index_dir), "eval", str(SEEDS_DEV)]
    assert main([*args, "--report", str(report)]) == 0
    page.goto((report / "report.html").as_uri())
    expect(page.locator("table")).to_be_visible()
    no_sideways_scroll(page)
    page.screenshot(path=str(ARTIFACTS / "eval-report-390.png"), full_page=True)
    context.close()
