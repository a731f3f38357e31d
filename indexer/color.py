"""sRGB to OKLab (Björn Ottosson, 2020), vectorised with numpy."""

from __future__ import annotations

__all__ = ["srgb_to_oklab"]

from functools import lru_cache

import numpy as np

_M1 = np.array(
    [[0.4122214708, 0.5363325363, 0.0514459929],
     [0.2119034982, 0.6806995451, 0.1073969566],
     [0.0883024619, 0.2817188376, 0.6299787005]],
    dtype=np.float32,
)
_M2 = np.array(
    [[0.2104542553, 0.7936177850, -0.0040720468],
     [1.9779984951, -2.4285922050, 0.4505937099],
     [0.0259040371, 0.7827717662, -0.8086757660]],
    dtype=np.float32,
)


@lru_cache(maxsize=1)
def _linear_lut() -> np.ndarray:
    c = np.arange(256, dtype=np.float64) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return lin.astype(np.float32)


def srgb_to_oklab(rgb: np.ndarray) -> np.ndarray:
    """``(..., 3) uint8`` sRGB to ``(..., 3) float32`` OKLab (L in [0, 1], a/b about +-0.4)."""
    if rgb.dtype != np.uint8 or rgb.shape[-1] != 3:
        raise ValueError(f"expected (..., 3) uint8 RGB, got {rgb.dtype} {rgb.shape}")
    lin = _linear_lut()[rgb]
    lms = np.cbrt(lin @ _M1.T)
    return lms @ _M2.T
