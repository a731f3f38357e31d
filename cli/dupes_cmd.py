"""`lookalike dupes`: near-duplicate images and duplicate regions in an index."""

from __future__ import annotations

from pathlib import Path

import typer


from .common import IndexOption, JsonOption, handle_errors, open_index, print_json


@handle_errors
def dupes_command(
    index: Path | None = IndexOption,
    regions: bool = typer.Option(
        False, "--regions", help="Also list pairs of pictures that share a region (the index needs `index --regions`)."),
    within: bool = typer.Option(False, "--within", help="With --regions: also a region repeated inside one picture "
                                                        "(copy-move)."),
    min_score: float | None = typer.Option(
        None, "--min-score", min=0.0, max=1.0, help="Similarity that makes a duplicate (default 0.90).",
        show_default=False,
    ),
    plan: Path | None = typer.Option(
        None, "--plan", metavar="FILE", show_default=False,
        help="Also save a review plan to FILE: in each group, keep the picture --keep prefers, trash the others "
             "(carry it out with `lookalike apply FILE`).",
    ),
    keep: str = typer.Option("largest-resolution", "--keep", metavar="RULE",
                             help="For --plan: largest-resolution, largest-file or oldest."),
    json_out: bool = JsonOption,
) -> None:
    """List groups of near-duplicate images, and duplicate regions with --regions.

    Near-duplicates are recompressed, resized or lightly edited copies.

    Rotated or mirrored copies are not duplicates. Each group has a score: its weakest link.

    --regions adds the pairs of pictures that share a region (a pasted patch, a logo, a photo
    reused in a collage, a crop), whatever the patch's scale (0.5x-2x), with the box in each and a
    score (the aligned pixels' correlation, at least 0.8 unless --min-score says otherwise); a
    rotated or mirrored patch is not a duplicate region. Whole-image duplicates stay groups.
    """
    with open_index(index) as ix:
        report = ix.duplicates(regions=regions or within, min_score=min_score, within=within)
        if plan is not None:
            from lookalike.indexer.plan import group_pictures, preselect

            preselect(group_pictures(ix, report.groups), keep, index=str(ix.directory.resolve())).save(plan)
    if json_out:
        print_json(report)
        return
    if not report.groups:
        typer.echo("no duplicate images")
    for i, g in enumerate(report.groups, 1):
        typer.echo(f"group {i} ({len(g)} images):")
        for p in g:
            typer.echo(f"  {p}")
    if regions or within:
        if not report.regions:
            typer.echo("no duplicate regions")
        for p in report.regions:
            typer.echo(f"{p.score:.3f}  {p.a.path} {list(p.a.box)}  ~  {p.b.path} {list(p.b.box)}")
