"""Shared by the review-page benches: Debian's Chromium driven by Playwright, and the server."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium() -> str:
    exe = os.environ.get("LOOKALIKE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        sys.exit("no Chromium: apt install chromium (or set $LOOKALIKE_CHROMIUM)")
    return exe


def index_folder(photos: Path, where: Path) -> Path:
    from lookalike.indexer import Index

    with Index.open(where, create=True) as ix:
        ix.add([photos])
    return where
