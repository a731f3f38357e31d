"""`lookalike diff`, `lookalike static-layer` and `lookalike background`: frames and videos."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import JsonOption, handle_errors, print_json

DeviceOption = typer.Option(None, "--device", help="torch device, e.g. cpu or cuda (default: cpu).")


@handle_errors
def diff_command(
    a: Path = typer.Argument(..., help="First frame."),
    b: Path = typer.Argument(..., help="Second frame, same size."),
    out: Path = typer.Option(..., "--out", "-o", help="Where to write the result (PNG)."),
    tolerance: float = typer.Option(0.0, "--tolerance", "-t", min=0,
                                    help="Largest RGB distance (0-255 scale) that still counts as unchanged."),
    fill: str = typer.Option("black", "--fill", help="Color written where the frames differ: R,G,B, #rrggbb or a name."),
    device: str | None = DeviceOption,
    json_out: bool = JsonOption,
) -> None:
    """Keep what did not change between two frames of the same video.

    A pixel of A is kept when the Euclidean distance of its RGB values in A and B is at most
    --tolerance; otherwise --fill is written. JSON: {"changed": n, "total": n}."""
    from lookalike.cli.frame_files import diff_files

    rep = diff_files(a, b, out, tolerance=tolerance, fill=fill, device=device)
    if json_out:
        print_json(rep)
    else:
        typer.echo(f"{rep.changed} of {rep.total} pixels changed ({100 * rep.changed / max(rep.total, 1):.1f}%); wrote {rep.out}")


@handle_errors
def static_layer_command(
    inputs: list[Path] = typer.Argument(..., help="A video file, or frame images of one size."),
    out: Path = typer.Option(..., "--out", "-o", help="The layer as an RGBA PNG."),
    mask_out: Path | None = typer.Option(None, "--mask-out", help="The mask as an L PNG, 255 where static."),
    frames: int = typer.Option(24, "--frames", "-n", min=3, help="How many frames to use, from the start."),
    device: str | None = DeviceOption,
    json_out: bool = JsonOption,
) -> None:
    """Recover the layer drawn over a moving video: a HUD, a scoreboard, a logo, subtitles.

    Follows the background's motion (a camera pan), stitches the background without the layer,
    and keeps what does not follow the motion, with partial opacity for translucent panels and
    watermarks. A video whose camera does not move cannot be separated (a warning says so)."""
    from lookalike.cli.frame_files import static_layer_files

    rep = static_layer_files(inputs, out, mask_out=mask_out, frames=frames, device=device)
    if json_out:
        print_json(rep)
    else:
        typer.echo(f"{rep.frames} frames, background moved {rep.motion[1]:g} px across and {rep.motion[0]:g} px down; "
                   f"layer: {rep.layer_pixels} of {rep.total} pixels; wrote {rep.out}"
                   + (f" and {rep.mask_out}" if rep.mask_out else ""))


@handle_errors
def background_command(
    inputs: list[Path] = typer.Argument(..., help="A video file, or frame images of one size."),
    out: Path = typer.Option(..., "--out", "-o", help="The background (PNG)."),
    last: int | None = typer.Option(None, "--last", min=1,
                                    help="Use the last N frames (exact median). Default: all, streamed."),
    device: str | None = DeviceOption,
    json_out: bool = JsonOption,
) -> None:
    """Estimate the background of a static-camera video (per-pixel median).

    Robust to things passing through.

    With --last N, the true median of the last N frames. Without, every frame is streamed
    through a remedian, so a long video is never held in memory (exact up to 64 frames)."""
    from lookalike.cli.frame_files import background_files

    rep = background_files(inputs, out, last=last, device=device)
    if json_out:
        print_json(rep)
    else:
        typer.echo(f"{rep.method} of {rep.frames} frames; wrote {rep.out}")
