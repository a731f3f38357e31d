"""Torch operators of lookalike. Importing this package imports torch."""

from .crop import CropMatch, FindCrop, find_crop, ncc_map

__all__ = ["CropMatch", "FindCrop", "find_crop", "ncc_map"]
