"""`lookalike info`, `rebuild`, `verify`, `merge`: look after an index."""

from __future__ import annotations

from pathlib import Path

import typer


from .common import IndexOption, JsonOption, handle_errors, open_index, print_json


@handle_errors
def info_command(index: Path | None = IndexOption, json_out: bool = JsonOption) -> None:
    """Show what an index holds: images, regions, skipped files, how it is searched."""
    with open_index(index) as ix:
        info = ix.info()
    if json_out:
        print_json(info)
        return
    typer.echo(f"index       {info.directory}")
    typer.echo(f"images      {info.images}")
    typer.echo(f"regions     {info.regions} ({info.searchable_regions} searchable, the rest near-uniform)")
    typer.echo(f"skipped     {info.skipped}")
    typer.echo(f"descriptor  {info.descriptor}, tiles coded {info.tile_code}")
    typer.echo(f"embedder    {info.embedder}" + (f" (version {info.embedder_version}, {info.embedder_dim} dims)"
                                                 if info.embedder != "none" else ""))
    typer.echo(f"vectors     images: {info.image_index}, regions: {info.region_index} "
               f"(generation {info.generation}, {info.segments} segment files)")
    typer.echo(f"keypoints   {'kept (dupes --regions works)' if info.keypoints else 'none (index --regions to keep them)'}")


@handle_errors
def rebuild_command(index: Path | None = IndexOption, json_out: bool = JsonOption) -> None:
    """Recreate the FAISS files from the SQLite catalog (the source of truth)."""
    with open_index(index) as ix:
        report = ix.rebuild()
    if json_out:
        print_json(report)
    else:
        typer.echo(f"rebuilt: {report.images} images, {report.regions} regions")


@handle_errors
def verify_command(index: Path | None = IndexOption, json_out: bool = JsonOption) -> None:
    """Check the catalog and that the FAISS files match it exactly. Exit 1 on any mismatch."""
    with open_index(index) as ix:
        report = ix.verify()
    if json_out:
        print_json(report)
    else:
        typer.echo("ok" if report.ok else "\n".join(f"problem: {p}" for p in report.problems))
    if not report.ok:
        raise typer.Exit(1)


@handle_errors
def merge_command(
    other: Path = typer.Argument(..., metavar="OTHER", help="The index folder to take the pictures of."),
    index: Path | None = IndexOption,
    json_out: bool = JsonOption,
) -> None:
    """Merge another index (built by another process or machine, with the same settings) into
    this one. A path indexed in both takes OTHER's record; OTHER is left as it was.

    Example: lookalike merge /mnt/part-07/lookalike-index --index lookalike-index
    """
    with open_index(index, create=True) as ix:
        report = ix.merge(other)
    if json_out:
        print_json(report)
    else:
        typer.echo(f"merged: {report.added} added, {report.updated} replaced")
