"""`lookalike dupes`: near-duplicate images and duplicate regions in an index."""

from __future__ import annotations

from pathlib import Path

import typer


from .common import IndexOption, JsonOption, handle_errors, open_index, print_json


@handle_errors
def dupes_command(
    index: Path | None = IndexOption,
    regions: bool = typer.Option(False, "--regions", help="Also list pairs of duplicate regions between images."),
    min_score: float | None = typer.Option(
        None, "--min-score", min=0.0, max=1.0, help="Similarity that makes a duplicate (default 0.90).",
        show_default=False,
    ),
    json_out: bool = JsonOption,
) -> None:
    """List groups of near-duplicate images, and duplicate regions with --regions.

    Near-duplicates are recompressed, resized or lightly edited copies.

    Rotated or mirrored copies are not duplicates. --regions adds, for each pair of images that
    share a region (a crop, a collage, a reused background), their best matching pair of boxes.
    """
    with open_index(index) as ix:
        report = ix.duplicates(regions=regions, min_score=min_score)
    if json_out:
        print_json(report)
        return
    if not report.groups:
        typer.echo("no duplicate images")
    for i, g in enumerate(report.groups, 1):
        typer.echo(f"group {i} ({len(g)} images):")
        for p in g:
            typer.echo(f"  {p}")
    if regions:
        if not report.regions:
            typer.echo("no duplicate regions")
        for p in report.regions:
            typer.echo(f"{p.score:.3f}  {p.a.path} {list(p.a.box)}  ~  {p.b.path} {list(p.b.box)}")
