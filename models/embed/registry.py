"""Embedders by name: ``lookalike-s`` (shipped, trained here) or a torchvision backbone."""

from __future__ import annotations

__all__ = ["EMBEDDER_NAMES", "load_embedder"]

import os

from lookalike.models.errors import EmbedderError

from .backbones import BACKBONES
from .embedding import Embedder
from .lookalike_s import NAME as LOOKALIKE_S

#: Every name ``lookalike index --embedder`` accepts besides ``none``.
EMBEDDER_NAMES = (LOOKALIKE_S, *sorted(BACKBONES))


def load_embedder(name: str, weights: str | os.PathLike[str] | None = None, device: str = "auto") -> Embedder:
    """The embedder called ``name``, with ``weights`` (a file) if given. Raises
    :class:`~lookalike.models.errors.EmbedderError` for an unknown name or missing weights."""
    if name == LOOKALIKE_S:
        from .lookalike_s import load_lookalike_s

        return load_lookalike_s(weights, device)
    if name in BACKBONES:
        from .backbones import load_backbone

        return load_backbone(name, weights, device)
    raise EmbedderError(f"unknown embedder {name!r}; known: none, {', '.join(EMBEDDER_NAMES)}")
