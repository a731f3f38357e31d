"""The orientations lookalike tells apart: 8 rotations/mirrors and 6 channel orders.

Every table of them in lookalike is this one. The dihedral variants are, in order,
``np.rot90(P, k)`` for k = 0..3 (counter-clockwise on screen), then ``np.rot90(np.fliplr(P), k)``;
the channel orders are the permutations of RGB, identity first.
"""

from __future__ import annotations

__all__ = ["DIHEDRAL_NAMES", "CHANNEL_ORDERS", "dihedral", "channel_order", "orientation_variants", "same_variants",
           "SAME_LEVELS"]

import numpy as np
from PIL import Image

#: The 8 dihedral variants: index ``i`` is ``rot90(fliplr(P) if i >= 4 else P, i % 4)``.
DIHEDRAL_NAMES = ("rot0", "rot90", "rot180", "rot270", "flip_rot0", "flip_rot90", "flip_rot180", "flip_rot270")
#: The 6 orders of the RGB channels, identity first.
CHANNEL_ORDERS: tuple[tuple[int, int, int], ...] = ((0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0))


def dihedral(a: np.ndarray, k: int | str, axes: tuple[int, int] = (0, 1)) -> np.ndarray:
    """The ``k``-th dihedral variant of ``a`` (an index or a name of :data:`DIHEDRAL_NAMES`) over
    ``axes`` (rows, columns); a view, not a copy."""
    i = DIHEDRAL_NAMES.index(k) if isinstance(k, str) else int(k)
    if not 0 <= i < 8:
        raise ValueError(f"dihedral index must be 0..7, got {k!r}")
    return np.rot90(np.flip(a, axes[1]) if i >= 4 else a, i % 4, axes=axes)


def channel_order(pixels: np.ndarray, k: int) -> np.ndarray:
    """``(..., 3)`` pixels with their channels in the ``k``-th of :data:`CHANNEL_ORDERS` order."""
    return pixels[..., list(CHANNEL_ORDERS[k])]


def orientation_variants(pixels: np.ndarray) -> list[np.ndarray]:
    """``(H, W, 3)`` pixels -> the 13 contiguous arrays the orientation check compares: the image,
    its 7 other rotations/mirrors, then its 5 other channel orders."""
    a = np.asarray(pixels)
    return ([np.ascontiguousarray(dihedral(a, i)) for i in range(8)]
            + [np.ascontiguousarray(channel_order(a, k)) for k in range(1, len(CHANNEL_ORDERS))])


#: A variant whose 32 x 32 thumbnail is within this many levels (mean absolute difference, 0-255)
#: of the picture's is the picture itself: a gray picture's channel swap, a symmetric picture's
#: mirror.
SAME_LEVELS = 2.0


def same_variants(pixels: np.ndarray, side: int = 32) -> np.ndarray:
    """``(H, W, 3) uint8`` -> ``(12,) bool``: which of :func:`orientation_variants` (after the
    picture itself) leave it the same, compared on ``side`` x ``side`` thumbnails (a box
    average). A variant that is the same picture must not vote against it in the orientation
    check."""
    thumb = np.asarray(Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8)).resize(
        (side, side), Image.Resampling.BOX), np.float32)
    variants = orientation_variants(thumb)
    return np.array([float(np.abs(v - thumb).mean()) < SAME_LEVELS for v in variants[1:]])
