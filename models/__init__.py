"""Torch operators of lookalike (CPU or CUDA, same code). Importing this package imports torch."""

from .crop import CropMatch, FindCrop, find_crop, ncc_map
from .pattern import (
    FindPattern, PatternHits, PatternMatch, find_pattern, match_maps, parse_pattern, pattern_hits, pattern_variants,
)

__all__ = [
    "CropMatch",
    "FindCrop",
    "FindPattern",
    "PatternHits",
    "PatternMatch",
    "find_crop",
    "find_pattern",
    "match_maps",
    "ncc_map",
    "parse_pattern",
    "pattern_hits",
    "pattern_variants",
]
