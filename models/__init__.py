"""Torch operators of lookalike (CPU or CUDA, same code).

Names are imported on first use (PEP 562): torch loads when an operator is first touched, and
the video decoder's child process, which needs only PyAV and numpy, never loads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lookalike.indexer.lazy import lazy_exports

_WHERE = {
    "LabelRegions": "components", "RegionStats": "components", "Segmentation": "components",
    "label_regions": "components",
    "CropMatch": "crop", "FindCrop": "crop", "find_crop": "crop", "ncc_map": "crop",
    "FindPattern": "pattern", "PatternHits": "pattern", "PatternMatch": "pattern", "find_pattern": "pattern",
    "match_maps": "pattern", "parse_pattern": "pattern", "pattern_hits": "pattern", "pattern_variants": "pattern",
    "iter_frames": "video", "read_frames": "video",
    "BackgroundStream": "frames", "estimate_background": "frames", "frame_diff": "frames", "true_median": "frames",
    "StaticLayer": "static_overlay", "static_layer": "static_overlay",
    "Embedder": "embedding", "EMBEDDER_NAMES": "embedders", "load_embedder": "embedders",
    "TrainConfig": "training", "TrainReport": "training", "train_lookalike_s": "training",
}

__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_exports(__name__, _WHERE, globals())


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from .components import LabelRegions, RegionStats, Segmentation, label_regions
    from .crop import CropMatch, FindCrop, find_crop, ncc_map
    from .pattern import (
        FindPattern, PatternHits, PatternMatch, find_pattern, match_maps, parse_pattern, pattern_hits,
        pattern_variants,
    )
    from .frames import BackgroundStream, estimate_background, frame_diff, true_median
    from .static_overlay import StaticLayer, static_layer
    from .video import iter_frames, read_frames
    from .embedders import EMBEDDER_NAMES, load_embedder
    from .embedding import Embedder
    from .training import TrainConfig, TrainReport, train_lookalike_s
