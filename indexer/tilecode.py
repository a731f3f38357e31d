"""Tile codes: the compact binary form of a tile's descriptor, as the region index holds it.

A code is the signs of a fixed linear projection of the descriptor: centered on the mean tile,
onto its top principal directions, then turned by a random rotation that spreads their
variance evenly over the bits. Fitted once (:func:`fit`, run by ``bench/tilecode.py`` on the
tune half of ``bench/categories.py``'s pictures) and shipped with the package, its metadata
saying how it was made; the index records the code's name in its tile scheme.

128 such bits rank a crop's source as well as the 256 bits of random projections (SimHash)
they replace; they cost half the memory. A query keeps its windows' projections: candidates
found by Hamming distance are re-ranked by :func:`asymmetric_scores`, the query's unit
projection against the candidate's bits, which loses less than comparing two binarized codes.
"""

from __future__ import annotations

__all__ = ["TILE_CODE", "TILE_CODE_BITS", "TileCode", "tile_code", "fit"]

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

#: The shipped code: its file in this package, and its length.
TILE_CODE = "pca-v1"
TILE_CODE_BITS = 128
_FILE = "tilecode-v1.npz"


@dataclass(frozen=True)
class TileCode:
    """A projection ``(x - mean) @ matrix`` whose signs are a code. ``mean``: ``(D,) float32``;
    ``matrix``: ``(D, bits) float32``; ``meta``: how it was made."""

    mean: np.ndarray
    matrix: np.ndarray
    meta: dict

    @property
    def bits(self) -> int:
        return int(self.matrix.shape[1])

    def project(self, vectors: np.ndarray) -> np.ndarray:
        """``(N, D) float32`` descriptors to ``(N, bits) float32`` projections, unit rows (a
        zero projection stays zero)."""
        z = (np.asarray(vectors, np.float32).reshape(-1, len(self.mean)) - self.mean) @ self.matrix
        norm = np.linalg.norm(z, axis=1, keepdims=True)
        return z / np.where(norm > 0, norm, 1)

    def encode(self, vectors: np.ndarray) -> np.ndarray:
        """``(N, D)`` descriptors to ``(N, bits // 8) uint8`` packed codes."""
        return self.pack(self.project(vectors))

    @staticmethod
    def pack(projections: np.ndarray) -> np.ndarray:
        """The codes of projections (their signs, packed): ``(N, bits // 8) uint8``."""
        return np.packbits(np.asarray(projections) > 0, axis=1)

    def asymmetric_scores(self, projections: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """How well codes fit query projections: ``projections`` ``(n, bits)`` (unit rows, from
        :meth:`project`) against ``codes`` ``(n, k, bits // 8) uint8``: ``(n, k) float32``, the
        inner product of each projection with its codes' bits as +-1, over sqrt(bits). 1 is
        the most a code can score (every bit agrees, with equal weights); a projection scores
        higher against its own code than against any other."""
        signs = np.unpackbits(np.asarray(codes, np.uint8), axis=-1, count=self.bits).astype(np.float32) * 2 - 1
        return np.einsum("nb,nkb->nk", np.asarray(projections, np.float32), signs) / np.float32(np.sqrt(self.bits))


@lru_cache(maxsize=1)
def tile_code() -> TileCode:
    """The shipped tile code (read once, on first use)."""
    with resources.files("lookalike.indexer").joinpath(_FILE).open("rb") as fh:
        data = np.load(fh, allow_pickle=False)
        code = TileCode(data["mean"].astype(np.float32), data["matrix"].astype(np.float32),
                        json.loads(str(data["meta"])))
    if code.meta.get("name") != TILE_CODE or code.bits != TILE_CODE_BITS:
        raise RuntimeError(f"{_FILE} holds tile code {code.meta.get('name')} of {code.bits} bits, "
                           f"expected {TILE_CODE} of {TILE_CODE_BITS}: the installation is damaged")
    return code


def fit(vectors: np.ndarray, bits: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, matrix)`` of a code of ``bits`` bits for descriptors like ``vectors`` ``(N, D)``:
    the mean, the top ``bits`` principal directions, a random rotation of them (seeded)."""
    x = np.asarray(vectors, np.float64)
    if x.ndim != 2 or len(x) <= bits or bits > x.shape[1]:
        raise ValueError(f"need more than {bits} vectors of at least {bits} dimensions, got {x.shape}")
    mean = x.mean(0)
    centered = x - mean
    _, vecs = np.linalg.eigh(centered.T @ centered / len(x))
    top = vecs[:, ::-1][:, :bits]
    rotation = np.linalg.qr(np.random.default_rng(seed).standard_normal((bits, bits)))[0]
    return mean.astype(np.float32), (top @ rotation).astype(np.float32)
