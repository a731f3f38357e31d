"""``lookalike-s``: the compact embedder trained by this project, and its checkpoint format.

A plain 7-layer convolutional trunk (stride 8, 128 channels, about 0.45 M parameters) under a
:class:`~lookalike.models.embed.embedding.GridHead` with a learned projection to 128 dimensions.
It sees raw RGB (no color jitter in training), so colors and their order matter to it.

A checkpoint is a ``torch.save`` dict: ``format``, ``config`` (the architecture),
``state_dict`` (float16 tensors) and ``meta`` (seed, command, data, edits, steps, losses).
The shipped one is ``data/lookalike-s.pt``; ``$LOOKALIKE_S_WEIGHTS`` or ``--weights FILE``
point elsewhere. The embedder's version is the first 12 hex digits of the file's SHA-256, so an
index records exactly which weights made its vectors.
"""

from __future__ import annotations

__all__ = [
    "LookalikeSNet", "load_lookalike_s", "save_checkpoint", "read_checkpoint", "default_weights_path",
    "NAME", "FORMAT",
]

import hashlib
import os
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lookalike.models.errors import EmbedderError

from .embedding import Embedder, GridHead

NAME = "lookalike-s"
FORMAT = "lookalike-s/1"
WEIGHTS_ENV = "LOOKALIKE_S_WEIGHTS"
DEFAULT_CONFIG = {"widths": [24, 48, 48, 96, 96, 128, 128], "strides": [2, 2, 1, 2, 1, 1, 1], "dim": 128,
                  "input_side": 128}
#: Inputs are scaled to [-2, 2] around mid-gray; no ImageNet statistics.
MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


class LookalikeSNet(nn.Module):
    """Trunk and head of ``lookalike-s``. ``forward(x, rois) -> (R, dim)``."""

    def __init__(self, widths: list[int], strides: list[int], dim: int, input_side: int = 128) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for w, s in zip(widths, strides):
            layers += [nn.Conv2d(cin, w, 3, stride=s, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
            cin = w
        self.trunk = nn.Sequential(*layers)
        stride = 1
        for s in strides:
            stride *= s
        self.head = GridHead(cin, stride, dim, projection="learned")
        self.config = {"widths": list(widths), "strides": list(strides), "dim": dim, "input_side": input_side}

    def forward(self, x: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x), rois)


def default_weights_path() -> Path:
    """``$LOOKALIKE_S_WEIGHTS`` if set, else ``data/lookalike-s.pt`` of the source tree (an
    editable install), else the copy a regular install puts in ``<prefix>/share/lookalike``."""
    env = os.environ.get(WEIGHTS_ENV)
    if env:
        return Path(env)
    source = Path(__file__).resolve().parents[2] / "data" / "lookalike-s.pt"
    installed = Path(sys.prefix) / "share" / "lookalike" / "lookalike-s.pt"
    return installed if not source.exists() and installed.exists() else source


def save_checkpoint(net: LookalikeSNet, path: str | os.PathLike[str], meta: dict[str, Any]) -> str:
    """Write ``net`` (float16) with ``meta`` atomically; return the version it will load as."""
    path = Path(path)
    state = {k: (v.detach().cpu().half() if v.is_floating_point() else v.detach().cpu())
             for k, v in net.state_dict().items()}
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"format": FORMAT, "config": net.config, "state_dict": state, "meta": meta}, tmp)
    os.replace(tmp, path)
    return _version(path)


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The checkpoint dict, checked. Raises :class:`EmbedderError` with what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise EmbedderError(
            f"lookalike-s weights not found at {path}: give a weights file, set ${WEIGHTS_ENV}, "
            f"or train them (train_lookalike_s) into {path}",
            code="lookalike-s-weights-missing", path=str(path), env=WEIGHTS_ENV,
        )
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip and torch errors all mean "not a checkpoint"
        raise EmbedderError(f"{path} is not a lookalike-s checkpoint (torch.load: {type(exc).__name__})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise EmbedderError(f"{path} is not a lookalike-s checkpoint (format {FORMAT!r} expected)")
    return ckpt


def build_net(config: dict[str, Any]) -> LookalikeSNet:
    return LookalikeSNet(config["widths"], config["strides"], config["dim"], config.get("input_side", 128))


def _version(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def load_lookalike_s(weights: str | os.PathLike[str] | None = None, device: str | torch.device = "auto") -> Embedder:
    """The ``lookalike-s`` embedder from ``weights`` (default :func:`default_weights_path`)."""
    path = Path(weights) if weights else default_weights_path()
    ckpt = read_checkpoint(path)
    net = build_net(ckpt["config"])
    try:
        net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in ckpt["state_dict"].items()})
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise EmbedderError(f"{path} does not fit the lookalike-s architecture: {first}") from None
    return Embedder(NAME, _version(path), net.trunk, net.head, ckpt["config"].get("input_side", 128), MEAN, STD, device)
