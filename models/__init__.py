"""lookalike.models: pixels in, arrays and tensors out.

- ``io``: decoding images (``load_image``) and videos (``read_frames``), finding image files;
- ``ops``: torch operators, CPU or CUDA with the same code (``find_crop``, ``pattern_hits``,
  ``frame_diff``, ``estimate_background``, ``static_layer``, ``label_regions``, ``chan_vese``);
- ``embed``: learned embedders (``load_embedder``) and their training (``train_lookalike_s``);
- ``errors``, ``orientation`` (the 8 rotations/mirrors and 6 channel orders), ``tensors``.

It knows nothing of the index (``lookalike.indexer``), which builds on it. Names are imported
on first use (PEP 562): torch loads when an operator is first touched, and the video decoder's
child process, which needs only PyAV and numpy, never loads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_exports

_WHERE = {
    "LookalikeError": "errors", "ImageLoadError": "errors", "QueryError": "errors", "FramesError": "errors",
    "EmbedderError": "errors", "SkipReason": "errors",
    "DIHEDRAL_NAMES": "orientation", "CHANNEL_ORDERS": "orientation",
    "LoadedImage": "io.images", "load_image": "io.images", "as_image": "io.images",
    "iter_frames": "io.video", "read_frames": "io.video",
    "LabelRegions": "ops.components", "RegionStats": "ops.components", "Segmentation": "ops.components",
    "label_regions": "ops.components", "region_stats": "ops.components", "chan_vese": "ops.chan_vese",
    "CropMatch": "ops.crop", "FindCrop": "ops.crop", "find_crop": "ops.crop", "ncc_map": "ops.crop",
    "FindPattern": "ops.pattern", "PatternHits": "ops.pattern", "PatternMatch": "ops.pattern",
    "find_pattern": "ops.pattern", "match_maps": "ops.pattern", "parse_pattern": "ops.pattern",
    "pattern_hits": "ops.pattern", "pattern_variants": "ops.pattern",
    "BackgroundStream": "ops.frames", "estimate_background": "ops.frames", "frame_diff": "ops.frames",
    "true_median": "ops.frames",
    "StaticLayer": "ops.static_overlay", "static_layer": "ops.static_overlay",
    "Embedder": "embed.embedding", "EMBEDDER_NAMES": "embed.registry", "load_embedder": "embed.registry",
    "TrainConfig": "embed.training", "TrainReport": "embed.training", "train_lookalike_s": "embed.training",
}

__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_exports(__name__, _WHERE, globals())


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from .embed.embedding import Embedder
    from .embed.registry import EMBEDDER_NAMES, load_embedder
    from .embed.training import TrainConfig, TrainReport, train_lookalike_s
    from .errors import EmbedderError, FramesError, ImageLoadError, LookalikeError, QueryError, SkipReason
    from .io.images import LoadedImage, as_image, load_image
    from .io.video import iter_frames, read_frames
    from .ops.chan_vese import chan_vese
    from .ops.components import LabelRegions, RegionStats, Segmentation, label_regions, region_stats
    from .ops.crop import CropMatch, FindCrop, find_crop, ncc_map
    from .ops.frames import BackgroundStream, estimate_background, frame_diff, true_median
    from .ops.pattern import (
        FindPattern, PatternHits, PatternMatch, find_pattern, match_maps, parse_pattern, pattern_hits,
        pattern_variants,
    )
    from .ops.static_overlay import StaticLayer, static_layer
    from .orientation import CHANNEL_ORDERS, DIHEDRAL_NAMES
