"""Torch operators of lookalike (CPU or CUDA, same code). Importing this package imports torch."""

from .components import LabelRegions, RegionStats, Segmentation, label_regions
from .crop import CropMatch, FindCrop, find_crop, ncc_map
from .pattern import (
    FindPattern, PatternHits, PatternMatch, find_pattern, match_maps, parse_pattern, pattern_hits, pattern_variants,
)

__all__ = [
    "CropMatch",
    "FindCrop",
    "FindPattern",
    "LabelRegions",
    "PatternHits",
    "PatternMatch",
    "RegionStats",
    "Segmentation",
    "find_crop",
    "find_pattern",
    "label_regions",
    "match_maps",
    "ncc_map",
    "parse_pattern",
    "pattern_hits",
    "pattern_variants",
]
