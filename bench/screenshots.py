"""Screenshots of each page of `lookalike serve` on the sample data (data/sample), for the README.

Usage: python bench/screenshots.py [--out bench/screenshots]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from browser import CHROMIUM_FLAGS, ROOT, chromium, index_folder  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "screenshots")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    from lookalike.cli.web import create_app
    from lookalike.cli.web.server import BackgroundServer

    with tempfile.TemporaryDirectory() as tmp:
        sample = Path(tmp) / "sample"
        shutil.copytree(ROOT / "data" / "sample", sample)
        ix = index_folder(sample / "photos", Path(tmp) / "ix")
        with BackgroundServer(create_app(ix)) as server, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1280, "height": 820})

            def shot(name: str) -> None:
                page.wait_for_function("[...document.images].every(i => i.complete)")
                page.screenshot(path=str(args.out / f"{name}.jpg"), type="jpeg", quality=80)
                print(args.out / f"{name}.jpg")

            page.goto(server.url)
            page.set_input_files("#file", str(sample / "queries" / "crop_of_scene14.jpg"))
            page.wait_for_selector("figure.hit")
            shot("search-crop")
            page.goto(server.url + "dupes")
            page.wait_for_selector("article.group")
            page.click('button[data-rule="largest-resolution"]')
            page.wait_for_selector("figure.card.trashed")
            shot("duplicates")
            page.locator("article.group button.compare").first.click()
            page.wait_for_selector("#viewer[open]")
            shot("viewer-side-by-side")
            page.check('input[name="mode"][value="slider"]')
            shot("viewer-slider")
            page.check('input[name="mode"][value="diff"]')
            shot("viewer-difference")
            page.click("#viewer-close")
            page.click("#overview")
            page.wait_for_selector("#plan-dialog[open]")
            shot("plan")
            page.goto(server.url + "regions")
            page.wait_for_selector("article.pair")
            shot("regions")
            browser.close()


if __name__ == "__main__":
    main()
