"""`lookalike find-crop`: where a crop came from, and cutting other images at the same place."""

from __future__ import annotations

from pathlib import Path

import typer

from lookalike.models.errors import QueryError

from .common import JsonOption, handle_errors, print_json


def _parse_scales(text: str | None) -> list[float] | None:
    if text is None:
        return None
    from lookalike.cli.crop_files import scale_range

    try:
        a, b = (float(v) for v in text.split(":"))
    except ValueError:
        raise QueryError(f"--scales takes A:B, for example 0.5:2, got {text!r}") from None
    return scale_range(a, b)


@handle_errors
def find_crop_command(
    image: Path = typer.Argument(..., help="The image the crop was cut from."),
    crop: Path = typer.Argument(..., help="The crop."),
    top: int = typer.Option(1, "--top", "-k", min=1, help="How many occurrences to report."),
    scales: str | None = typer.Option(None, "--scales", metavar="A:B",
                                      help="Also search resized crops, from A to B times their size."),
    apply: list[Path] = typer.Option([], "--apply", help="Cut these images at the best box (repeatable)."),
    out_dir: Path | None = typer.Option(None, "--out-dir", help="Where --apply writes its crops."),
    device: str | None = typer.Option(None, "--device", help="torch device, e.g. cpu or cuda."),
    json_out: bool = JsonOption,
) -> None:
    """Find where CROP sits in IMAGE; --apply cuts other images at that box.

    Normalized cross-correlation over all color channels, exact to the pixel for an unscaled
    crop. With --apply: crop one screenshot by hand, crop a thousand more at the same place."""
    from lookalike.cli.crop_files import find_crop_files

    rep = find_crop_files(image, crop, top_k=top, scales=_parse_scales(scales), apply=apply, out_dir=out_dir,
                          device=device)
    if json_out:
        print_json(rep)
    else:
        for m in rep.matches:
            x, y, w, h = m.box
            typer.echo(f"{m.score:.4f}  box {x},{y} {w}x{h}" + (f"  (scale {m.scale:g})" if m.scale != 1.0 else ""))
        for a in rep.applied or []:
            typer.echo(f"wrote {a.out}" if a.out else f"skipped {a.path}: {a.error}")
    if any(a.out is None for a in rep.applied or []):
        raise typer.Exit(1)
