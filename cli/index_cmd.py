"""`lookalike index`: add folders of images to an index (or bring it up to date)."""

from __future__ import annotations

from pathlib import Path

import typer


from .common import (
    DeviceOption, IndexOption, JsonOption, WeightsOption, handle_errors, open_index, print_json, progress_bar,
)


@handle_errors
def index_command(
    paths: list[Path] = typer.Argument(..., help="Image files or folders (searched recursively).", show_default=False),
    index: Path | None = IndexOption,
    workers: int = typer.Option(0, "--workers", "-w", help="Processes that decode images (0: one per CPU)."),
    embedder: str | None = typer.Option(
        None, "--embedder", "-e", show_default=False,
        help="Learned signal beside the color grid: none (fastest), lookalike-s (shipped, offline), or a "
             "torchvision backbone (resnet50, mobilenet_v3_large, efficientnet_b0). Default: the index's own, "
             "none for a new index. Fixed once the index holds images.",
    ),
    regions: bool = typer.Option(
        False, "--regions",
        help="Also keep each picture's keypoints, which `dupes --regions` needs (a pasted patch, a reused photo, "
             "copy-move). Indexing takes longer. Once given, the index always keeps them.",
    ),
    weights: Path | None = WeightsOption,
    device: str = DeviceOption,
    json_out: bool = JsonOption,
) -> None:
    """Index images and folders, or bring an index up to date.

    New files are added, changed ones re-described, vanished ones dropped.

    Every image is described whole and as overlapping tiles at four scales, so later searches
    find crops and shared regions too. Unreadable files are skipped and listed with a reason.
    Re-run it any time; an interrupted run resumes where it stopped.

    With --embedder, a learned embedding of every image and tile is stored as well and search
    fuses both signals: heavier edits (strong JPEG, trims, overlays, noise, gamma) still match,
    rotated, mirrored or channel-swapped copies still do not.
    """
    with open_index(index, create=True, embedder=embedder, weights=weights, device=device) as ix:
        with progress_bar("indexing", not json_out) as progress:
            report = ix.add(paths, progress=progress, workers=workers or None, keypoints=regions)
    if json_out:
        print_json(report)
        return
    typer.echo(f"{report.added} added, {report.updated} updated, {report.removed} removed, "
               f"{report.unchanged} unchanged, {len(report.skipped)} skipped")
    for s in report.skipped:
        typer.echo(f"  skipped {s.path}: {s.reason}" + (f" ({s.detail})" if s.detail else ""))
