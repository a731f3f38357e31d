"""pattern on files: images binarized at a threshold, or .npy stacks, searched in one batch."""

from __future__ import annotations

__all__ = ["PatternFileResult", "search_pattern_files", "load_stack"]

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from lookalike.indexer.errors import QueryError
from lookalike.indexer.loading import load_input, luma

from .pattern import PatternHits, parse_pattern, pattern_hits


@dataclass(frozen=True)
class PatternFileResult:
    """The matches in one input file; an image file is a stack of one."""

    input: str
    hits: PatternHits


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
