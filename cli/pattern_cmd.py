"""`lookalike pattern`: a small binary pattern in any rotation or mirror, over images or stacks."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import typer

from .common import JsonOption, handle_errors

if TYPE_CHECKING:
    from lookalike.models.ops.pattern import PatternHits


def _text_lines(input_name: str, hits: "PatternHits", shown: int = 10) -> Iterator[str]:
    offsets = hits.offsets().tolist()
    for i in range(hits.count):
        a, b = offsets[i], offsets[i + 1]
        if a == b:
            yield f"{input_name}[{i}]: not found\n"
            continue
        where = ", ".join(f"({x},{y}) {hits.names[v]}" for x, y, v in
                          zip(hits.x[a:a + shown].tolist(), hits.y[a:a + shown].tolist(),
                              hits.variant[a:a + shown].tolist()))
        more = f" (+{b - a - shown} more)" if b - a > shown else ""
        yield f"{input_name}[{i}]: {b - a} matches: {where}{more}\n"


def _write(lines: Iterator[str], chunk: int = 4096) -> None:
    buf: list[str] = []
    for line in lines:
        buf.append(line)
        if len(buf) >= chunk:
            sys.stdout.write("".join(buf))
            buf.clear()
    sys.stdout.write("".join(buf))
    sys.stdout.flush()


@handle_errors
def pattern_command(
    inputs: list[Path] = typer.Argument(..., help="Images, or .npy stacks of shape (N, H, W) or (N, H*W)."),
    pattern: str = typer.Option(..., "--pattern", "-p", help="Cells 1 (foreground), 0 (background), . (any); rows split by /, e.g. 1000/1111."),
    variants: str = typer.Option("all", "--variants", help="all (8 rotations/mirrors), rotations (4) or none."),
    shape: str | None = typer.Option(None, "--shape", metavar="HxW", help="Shape of flat .npy rows, e.g. 28x28."),
    threshold: float | None = typer.Option(None, "--threshold", help="Foreground is above this (default: half the maximum)."),
    device: str | None = typer.Option(None, "--device", help="torch device, e.g. cpu or cuda."),
    json_out: bool = JsonOption,
) -> None:
    """Find a small binary pattern in any of its rotations and mirrors (hit-or-miss).

    A match at x, y means the variant, its top-left cell at column x, row y, fits inside the
    image and every 1/0 cell agrees. Variants: rot0..rot270 and flip_rot0..flip_rot270
    (np.rot90 of the pattern, and of its left-right mirror); duplicates are reported once.

    With --json, one line per image in input order:
    {"input", "index", "found", "matches": [{"x", "y", "variant"}]}."""
    from lookalike.cli.pattern_files import search_pattern_files

    for res in search_pattern_files(inputs, pattern, variants=variants, shape=shape, threshold=threshold, device=device):
        _write(res.json_lines() if json_out else _text_lines(res.input, res.hits))
