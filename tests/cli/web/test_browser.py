"""The review page in a real browser: Debian's Chromium driven by Playwright (no browser download).

Skipped when no Chromium is installed, unless ``LOOKALIKE_BROWSER_TESTS=required`` (as `.ci/run`
sets it, after installing Debian's ``chromium``): then a missing browser fails."""

from __future__ import annotations

import os
import shutil
import urllib.request

import pytest
from PIL import Image

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str | None:
    return os.environ.get("LOOKALIKE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser():
    exe = chromium_path()
    if exe is None:
        if os.environ.get("LOOKALIKE_BROWSER_TESTS") == "required":
            pytest.fail("no Chromium found (install Debian's chromium package, or set $LOOKALIKE_CHROMIUM)")
        pytest.skip("no Chromium installed (apt install chromium); .ci/run installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.fixture()
def live(photo_index):
    from lookalike.cli.web import create_app
    from lookalike.cli.web.server import BackgroundServer

    with BackgroundServer(create_app(photo_index[0])) as server:
        server.url = server.url.rstrip("/")
        yield server, photo_index[1]


@pytest.fixture()
def page(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    ctx.close()
    assert errors == [], errors  # no script error on any page


def test_duplicates_page_shows_the_planted_group(live, page):
    server, photos = live
    page.goto(server.url + "/dupes")
    page.wait_for_selector("article.group")
    groups = page.locator("article.group")
    assert groups.count() == 1
    paths = groups.first.locator("figure.card").evaluate_all("els => els.map(e => e.dataset.path)")
    assert sorted(paths) == [str(photos / "s1.jpg"), str(photos / "s1_small.jpg")]
    # thumbnails really load (decoded by the server, shown by the browser)
    page.wait_for_function("[...document.querySelectorAll('article.group img')].every(i => i.complete && i.naturalWidth > 0)")
    # the live score range hides the group when its score is above the maximum
    page.fill("#max-score", "0.5")
    page.wait_for_function("document.querySelectorAll('article.group').length === 0")
    page.fill("#max-score", "1")
    page.wait_for_selector("article.group")
    # the side-by-side viewer opens on the group with both pictures
    page.click("article.group button.compare")
    page.wait_for_selector("#viewer[open]")
    page.wait_for_function("document.getElementById('img-a').naturalWidth > 0 && document.getElementById('img-b').naturalWidth > 0")
    a = page.locator("#facts-a .path").inner_text()
    page.click("#swap")
    assert page.locator("#facts-b .path").inner_text() == a
    page.check('input[name="mode"][value="diff"]')
    assert "diff" in page.get_attribute("#stage", "class")
    page.click("#viewer-close")


def test_uploading_a_crop_shows_its_source_with_the_box(live, page, tmp_path):
    server, photos = live
    crop = tmp_path / "crop.png"
    Image.open(photos / "s3.jpg").crop((60, 40, 220, 160)).save(crop)
    page.goto(server.url + "/")
    page.set_input_files("#file", str(crop))
    page.wait_for_selector("figure.hit")
    first = page.locator("figure.hit").first
    assert first.get_attribute("data-path") == str(photos / "s3.jpg")
    assert "match" in first.get_attribute("class")
    box = first.locator(".box")
    assert box.count() == 1
    style = box.get_attribute("style")  # left/top/width/height as shares of the picture
    left = float(style.split("left:")[1].split("%")[0])
    width = float(style.split("width:")[1].split("%")[0])
    assert abs(left - 100 * 60 / 320) < 3 and abs(width - 100 * 160 / 320) < 4


def test_mark_apply_and_undo_move_the_file_and_bring_it_back(live, page):
    server, photos = live
    small = photos / "s1_small.jpg"
    page.goto(server.url + "/dupes")
    page.wait_for_selector("article.group")
    # the last kept picture of a group cannot be trashed
    cards = page.locator("article.group figure.card")
    cards.nth(0).locator("button.mark").click()
    cards.nth(1).locator("button.mark").click()
    assert page.locator("figure.card.trashed").count() == 1
    page.click('button[data-rule="largest-resolution"]')
    page.wait_for_function(f"document.querySelector('figure.card.trashed')?.dataset.path === {str(small)!r}")
    page.click("#overview")
    page.wait_for_selector("#plan-dialog[open]")
    assert str(small) in page.locator("#plan-list").inner_text()
    page.click("#save-plan")
    page.wait_for_selector("#apply-plan:not([disabled])")
    page.click("#apply-plan")
    page.wait_for_selector("#undo-plan:not([disabled])")
    assert not small.exists()
    assert "Moved 1 file" in page.locator("#plan-result").inner_text()
    page.click("#undo-plan")
    page.wait_for_function("document.getElementById('plan-result').textContent.startsWith('Put back 1 file')")
    assert small.exists()


def test_traversal_attempts_get_404(live, page):
    server, _ = live
    for path in ["/api/thumb/..%2F..%2Fcatalog.sqlite", "/static/..%2Fapp.py", "/static/%2e%2e/app.py",
                 "/api/thumb/99999"]:
        assert page.goto(server.url + path).status == 404, path
    # and the raw request, not normalized by the browser
    for path in ["/static/../app.py", "/static/../../catalog.sqlite"]:
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(server.url + path)
        assert e.value.code == 404
