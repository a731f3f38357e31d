"""`lookalike segment`: contiguous regions of like color."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import JsonOption, handle_errors, print_json


@handle_errors
def segment_command(
    image: Path = typer.Argument(..., help="The image."),
    tolerance: float = typer.Option(0.0, "--tolerance", "-t", min=0,
                                    help="Largest RGB distance (0-255) between joined neighbours; 0: identical colors."),
    connectivity: int = typer.Option(4, "--connectivity", "-c", help="4 or 8 neighbours."),
    min_size: int = typer.Option(0, "--min-size", min=0, help="Regions smaller than this get label 0."),
    background: str | None = typer.Option(None, "--background", "-b", help=(
        "A color whose pixels belong to no region (label 0), e.g. white, 0,0,0 or #ffffff: "
        "the page behind the shapes, the zeros of a mask.")),
    method: str = typer.Option("components", "--method", help="components, or chan-vese for smooth grayscale images."),
    labels_out: Path | None = typer.Option(None, "--labels-out", help="Write the labels: .npy, int32 (H, W)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write an overlay PNG, one color per region."),
    device: str | None = typer.Option(None, "--device", help="torch device, e.g. cpu or cuda."),
    json_out: bool = JsonOption,
) -> None:
    """Split an image into contiguous regions of like color (the "list of shapes").

    Neighbours whose colors are within --tolerance are joined, chains included; labels are
    1..N in raster order of each region's first pixel. JSON: {"count", "regions": [{"label",
    "area", "box": [x, y, w, h], "color": [r, g, b], "centroid": [x, y]}]}."""
    from lookalike.cli.segment_files import segment_file

    rep = segment_file(image, tolerance=tolerance, connectivity=connectivity, min_size=min_size, method=method,
                       labels_out=labels_out, overlay_out=out, device=device,
                       background=background)
    if json_out:
        print_json(rep)
        return
    typer.echo(f"{rep.count} regions")
    for r in sorted(rep.regions, key=lambda r: -r.area)[:20]:
        typer.echo(f"  #{r.label}: {r.area} px, box {r.box[0]},{r.box[1]} {r.box[2]}x{r.box[3]}, "
                   f"color {tuple(round(c) for c in r.color)}")
    if rep.count > 20:
        typer.echo(f"  ... {rep.count - 20} more (largest shown; --json lists all)")
    for p in (rep.labels_out, rep.overlay_out):
        if p:
            typer.echo(f"wrote {p}")
