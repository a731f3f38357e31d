"""pattern on files: images binarized at a threshold, or .npy stacks, searched in one batch."""

from __future__ import annotations

__all__ = ["PatternFileResult", "search_pattern_files", "load_stack"]

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from lookalike.models.errors import QueryError
from lookalike.models.io.images import load_input, luma

from lookalike.models.ops.pattern import PatternHits, parse_pattern, pattern_hits


@dataclass(frozen=True)
class PatternFileResult:
    """The matches in one input file; an image file is a stack of one."""

    input: str
    hits: PatternHits

    def to_dicts(self) -> Iterator[dict[str, Any]]:
        """One object per image of the input: ``{"input", "index", "found", "matches": [{"x", "y",
        "variant"}]}``."""
        for i, matches in enumerate(self.hits.per_image()):
            yield {"input": self.input, "index": i, "found": bool(matches),
                   "matches": [{"x": m.x, "y": m.y, "variant": m.variant} for m in matches]}

    def json_lines(self) -> Iterator[str]:
        """:meth:`to_dicts` as JSON lines, byte for byte what ``json.dumps`` writes, built from the
        arrays without a dict per match (a stack of 100,000 images is formatted in a fraction of a
        second)."""
        hits = self.hits
        head = '{"input": ' + json.dumps(self.input, ensure_ascii=False) + ', "index": '
        names = [json.dumps(n) for n in hits.names]
        cells = [f'{{"x": {x}, "y": {y}, "variant": {names[v]}}}'
                 for x, y, v in zip(hits.x.tolist(), hits.y.tolist(), hits.variant.tolist())]
        offsets = hits.offsets().tolist()
        for i in range(hits.count):
            a, b = offsets[i], offsets[i + 1]
            if a == b:
                yield f'{head}{i}, "found": false, "matches": []}}\n'
            else:
                yield f'{head}{i}, "found": true, "matches": [{", ".join(cells[a:b])}]}}\n'


def _parse_shape(shape: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in shape.lower().split("x"))
        if h <= 0 or w <= 0:
            raise ValueError
    except ValueError:
        raise QueryError(f"--shape takes HxW, for example 28x28, got {shape!r}") from None
    return h, w


def load_stack(path: str | os.PathLike[str], shape: str | None) -> np.ndarray:
    """A .npy file as ``(N, H, W)``; ``(N, H*W)`` needs ``shape``."""
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise QueryError(f"cannot read {path}: {exc}") from None
    if arr.ndim == 2 and shape:
        h, w = _parse_shape(shape)
        if arr.shape[1] != h * w:
            raise QueryError(f"{path}: rows of {arr.shape[1]} values do not make {h}x{w} images")
        arr = arr.reshape(-1, h, w)
    if arr.ndim == 2 and not shape:
        arr = arr[None]
    if arr.ndim != 3:
        raise QueryError(f"{path}: expected (N, H, W), or (N, H*W) with --shape; got {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise QueryError(f"{path}: expected numbers, got {arr.dtype}")
    return arr


def search_pattern_files(
    inputs: Sequence[str | os.PathLike[str]], pattern: str, variants: str = "all", shape: str | None = None,
    threshold: float | None = None, device: str | None = None,
) -> Iterator[PatternFileResult]:
    """Results per input file, in input order (a .npy stack holds many images)."""
    try:
        parse_pattern(pattern)
    except ValueError as exc:
        raise QueryError(str(exc)) from None
    for p in inputs:
        if Path(p).suffix.lower() == ".npy":
            stack = load_stack(p, shape)
        else:
            stack = luma(load_input(p).pixels)[None]
        try:
            hits = pattern_hits(stack, pattern, variants=variants, threshold=threshold, device=device)
        except ValueError as exc:
            raise QueryError(str(exc)) from None
        yield PatternFileResult(str(p), hits)
