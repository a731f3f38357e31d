"""torchvision backbones as embedders, loaded lazily through their weight enums.

``resnet50``, ``mobilenet_v3_large`` and ``efficientnet_b0``: the convolutional trunk (the
classifier is dropped) under a :class:`~lookalike.models.embed.embedding.GridHead` whose 2x2 grid
(4 x C floats) is reduced to 512 by a fixed seeded random projection.

Weights: ``weights=FILE`` loads a local state dict of the full torchvision model; otherwise
torchvision's cache (``$TORCH_HOME``) is used, and a download is tried as torchvision always
does. Offline with nothing cached, :class:`EmbedderError` says which file to put where. There
is never a silent fallback to random weights.
"""

from __future__ import annotations

__all__ = ["BACKBONES", "load_backbone", "cached_weights_path"]

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlparse

import torch
from torch import nn

from lookalike.models.errors import EmbedderError

from .embedding import Embedder, GridHead

log = logging.getLogger(__name__)

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
PROJECTED_DIM = 512
INPUT_SIDE = 224


@dataclass(frozen=True)
class Backbone:
    builder: str  # torchvision.models function
    weights: str  # its weights enum
    channels: int
    trunk: Callable[[nn.Module], nn.Module]


def _resnet_trunk(m: nn.Module) -> nn.Module:
    return nn.Sequential(m.conv1, m.bn1, m.relu, m.maxpool, m.layer1, m.layer2, m.layer3, m.layer4)


BACKBONES: dict[str, Backbone] = {
    "resnet50": Backbone("resnet50", "ResNet50_Weights", 2048, _resnet_trunk),
    "mobilenet_v3_large": Backbone("mobilenet_v3_large", "MobileNet_V3_Large_Weights", 960, lambda m: m.features),
    "efficientnet_b0": Backbone("efficientnet_b0", "EfficientNet_B0_Weights", 1280, lambda m: m.features),
}


def _weights_enum(name: str) -> Any:
    import torchvision.models as tvm

    return getattr(tvm, BACKBONES[name].weights).DEFAULT


def cached_weights_path(name: str) -> Path:
    """Where torchvision caches ``name``'s default weights (``$TORCH_HOME/hub/checkpoints``)."""
    url = _weights_enum(name).url
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(url).path).name


def _state_dict(name: str, weights: str | os.PathLike[str] | None) -> tuple[dict[str, torch.Tensor], str]:
    """The state dict and a version string naming where it came from."""
    if weights is not None:
        path = Path(weights)
        if not path.is_file():
            raise EmbedderError(f"weights file {path}: no such file", code="weights-not-found", path=str(path))
        try:
            sd = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # not a torch file, or not a plain state dict
            raise EmbedderError(f"{path} is not a {name} state dict (torch.load: {type(exc).__name__})") from None
        if isinstance(sd, dict) and isinstance(sd.get("state_dict"), dict):
            sd = sd["state_dict"]
        return sd, f"file:{_digest(path)}"
    enum = _weights_enum(name)
    cached = cached_weights_path(name)
    try:
        sd = enum.get_state_dict(progress=True, check_hash=True)
    except Exception as exc:  # URLError, OSError, hash mismatch: all mean "not available here"
        why = type(exc).__name__
        raise EmbedderError(
            f"{name} weights are not cached and cannot be downloaded ({why}): "
            f"put {enum.url} at {cached}, or give a weights file (a {name} state dict)",
            code="weights-not-cached", name=name, why=why, url=enum.url, cached=str(cached),
        ) from None
    return sd, str(enum).split(".")[-1]


def _digest(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def load_backbone(name: str, weights: str | os.PathLike[str] | None = None, device: str | torch.device = "auto",
                  batch_size: int = 16) -> Embedder:
    """The embedder over torchvision's ``name`` with its weights (see the module docstring)."""
    import torchvision.models as tvm

    if name not in BACKBONES:
        raise EmbedderError(f"unknown backbone {name!r}; known: {', '.join(sorted(BACKBONES))}")
    spec = BACKBONES[name]
    sd, source = _state_dict(name, weights)
    model = getattr(tvm, spec.builder)(weights=None)
    try:
        model.load_state_dict(sd)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise EmbedderError(f"the weights do not fit {name}: {first}") from None
    head = GridHead(spec.channels, 32, PROJECTED_DIM, projection="random", dense=False)
    return Embedder(name, f"torchvision-{source}", spec.trunk(model), head, INPUT_SIDE, IMAGENET_MEAN, IMAGENET_STD,
                    device, batch_size)
