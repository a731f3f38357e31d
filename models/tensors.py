"""Arrays in, tensors out: the one converter every torch operator starts with."""

from __future__ import annotations

__all__ = ["as_chw"]

import numpy as np
import torch


def as_chw(x: np.ndarray | torch.Tensor, device: torch.device | str | None = None) -> torch.Tensor:
    """Channels first, values and dtype as given, on ``device`` (``None``: where it is).

    numpy ``(H, W)`` -> ``(1, H, W)``; ``(..., H, W, C)`` -> ``(..., C, H, W)`` (contiguous; a
    read-only array such as PIL's is copied, never written). A tensor is taken as channels-first
    already: ``(H, W)`` -> ``(1, H, W)``, anything else unchanged. Shapes are checked by the
    caller, which knows what it accepts."""
    if isinstance(x, torch.Tensor):
        t = x[None] if x.ndim == 2 else x
    else:
        arr = np.asarray(x)
        if arr.ndim < 2:
            raise ValueError(f"expected an image array (H, W) or (H, W, C), got shape {arr.shape}")
        arr = arr[None] if arr.ndim == 2 else np.moveaxis(arr, -1, -3)
        t = torch.from_numpy(np.require(arr, requirements=["C", "W"]))
    return t.to(device) if device is not None else t
