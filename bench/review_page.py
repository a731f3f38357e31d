"""Claims (issue 18): weight and time to first paint of the duplicates page of `lookalike serve`
over an index holding 1,000 duplicate groups.

The collection is generated (no ../shared needed): 1,000 procedural scenes of data/make_sample.py
(320x240 JPEGs), each with a half-size recompressed copy (JPEG q60): 2,000 pictures, 1,000
groups. The page is loaded in Debian's Chromium (headless, Playwright) several times: the first
load after the server starts computes the groups ("cold"), the others find them cached by the
catalog's generation ("warm"). Figures: first contentful paint, time until the first groups show and until every
group is on the page, bytes transferred (HTML, JS, CSS, JSON, the thumbnails the browser fetched; lazy
thumbnails below the fold are not fetched), requests, DOM nodes. Medians of the warm loads.

Usage: python bench/review_page.py [--groups 1000] [--loads 5] [--keep DIR]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from browser import CHROMIUM_FLAGS, ROOT, chromium, index_folder  # noqa: E402

MEASURE = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const fcp = performance.getEntriesByName('first-contentful-paint')[0];
  const res = performance.getEntriesByType('resource');
  const bytes = nav.transferSize + res.reduce((n, r) => n + r.transferSize, 0);
  return {fcp_ms: fcp ? fcp.startTime : null, bytes, requests: 1 + res.length,
          thumbs: res.filter(r => r.name.includes('/api/thumb/')).length,
          json_bytes: res.filter(r => r.name.includes('/api/')  && !r.name.includes('/api/thumb/'))
                         .reduce((n, r) => n + r.transferSize, 0),
          dom_nodes: document.getElementsByTagName('*').length};
}"""


def make_collection(folder: Path, groups: int) -> None:
    spec = importlib.util.spec_from_file_location("make_sample", ROOT / "data" / "make_sample.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(groups):
        im = mod.scene(50_000 + i, (320, 240))
        im.save(folder / f"p{i:05d}.jpg", quality=90)
        im.resize((160, 120)).save(folder / f"p{i:05d}_copy.jpg", quality=60)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--groups", type=int, default=1000)
    ap.add_argument("--loads", type=int, default=5)
    ap.add_argument("--keep", type=Path, help="build (or reuse) the collection and index here")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from lookalike.cli.web import create_app
    from lookalike.cli.web.server import BackgroundServer

    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep or Path(tmp)
        photos, ix = base / "photos", base / "ix"
        if not ix.exists():
            t = time.perf_counter()
            make_collection(photos, args.groups)
            index_folder(photos, ix)
            print(f"collection of {2 * args.groups} pictures made and indexed in {time.perf_counter() - t:.0f} s",
                  file=sys.stderr)
        loads = []
        with BackgroundServer(create_app(ix)) as server, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS)
            for i in range(args.loads):
                ctx = browser.new_context(viewport={"width": 1280, "height": 900})  # empty cache each time
                page = ctx.new_page()
                page.goto(server.url + "dupes")
                page.wait_for_selector("#groups[data-complete=yes]", timeout=300_000)
                # marks the page sets when its first chunk of groups, and its last, is on the page
                first_ms, shown_ms = page.evaluate("['first-groups', 'all-groups'].map(n => "
                                                   "performance.getEntriesByName('lookalike:' + n)[0].startTime)")
                page.wait_for_load_state("networkidle")
                m = page.evaluate(MEASURE)
                m["first_groups_ms"] = first_ms
                m["groups_shown_ms"] = shown_ms
                m["groups"] = page.locator("article.group").count()
                loads.append(m)
                print(json.dumps({"load": i + 1, **m}), file=sys.stderr)
                ctx.close()
            browser.close()
    cold, warm = loads[0], loads[1:] or loads

    def med(key: str) -> float:
        return statistics.median(m[key] for m in warm)

    print(f"duplicates page over {cold['groups']} groups ({2 * args.groups} pictures), Chromium headless:")
    print("| load | first contentful paint | first groups shown | all groups on the page | transferred | of it JSON | requests | thumbnails | DOM nodes |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, row in (("cold (groups computed)", cold), (f"warm (median of {len(warm)})", None)):
        get = (lambda k: row[k]) if row else med
        print(f"| {name} | {get('fcp_ms'):.0f} ms | {get('first_groups_ms'):.0f} ms | {get('groups_shown_ms'):.0f} ms | {get('bytes') / 1024:.0f} KiB | "
              f"{get('json_bytes') / 1024:.0f} KiB | {get('requests'):.0f} | {get('thumbs'):.0f} | {get('dom_nodes'):.0f} |")


if __name__ == "__main__":
    main()
