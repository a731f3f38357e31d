"""GridHash: the compact binary form of a descriptor, as a value object.

Bits are the signs of fixed random projections of the descriptor (SimHash), so the Hamming
distance between two hashes estimates the angle between their descriptors:
``cos(pi * (a - b) / bits)`` approximates their cosine similarity.
"""

from __future__ import annotations

__all__ = ["GridHash", "HASH_BITS", "hash_vectors"]

from functools import lru_cache

import numpy as np

from .descriptor import DESCRIPTOR_DIM

HASH_BITS = 256
_SEED = 0x100CA1


@lru_cache(maxsize=4)
def _projection(dim: int, bits: int) -> np.ndarray:
    rng = np.random.default_rng(_SEED)
    return rng.standard_normal((dim, bits)).astype(np.float32)


def hash_vectors(vectors: np.ndarray, bits: int = HASH_BITS) -> np.ndarray:
    """``(N, DESCRIPTOR_DIM) float32`` to ``(N, bits // 8) uint8`` packed hash bits; a shorter
    hash is the first ``bits`` of the full one."""
    if not 0 < bits <= HASH_BITS or bits % 8:
        raise ValueError(f"hash bits must be a multiple of 8 up to {HASH_BITS}, got {bits}")
    vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, DESCRIPTOR_DIM)
    signs = (vectors @ _projection(DESCRIPTOR_DIM, HASH_BITS)[:, :bits]) > 0
    return np.packbits(signs, axis=1)


class GridHash:
    """An immutable fixed-length binary hash. ``a - b`` is the Hamming distance."""

    __slots__ = ("_bytes",)

    def __init__(self, data: bytes | np.ndarray) -> None:
        raw = bytes(np.asarray(data, dtype=np.uint8).tobytes()) if not isinstance(data, bytes) else data
        if len(raw) != HASH_BITS // 8:
            raise ValueError(f"a GridHash has {HASH_BITS // 8} bytes, got {len(raw)}")
        self._bytes = raw

    @classmethod
    def from_vector(cls, vector: np.ndarray) -> "GridHash":
        return cls(hash_vectors(vector)[0])

    @classmethod
    def from_hex(cls, text: str) -> "GridHash":
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raise ValueError(f"not a hexadecimal GridHash: {text!r}") from None
        return cls(raw)

    def hex(self) -> str:
        return self._bytes.hex()

    def to_bytes(self) -> bytes:
        return self._bytes

    @property
    def bits(self) -> np.ndarray:
        return np.unpackbits(np.frombuffer(self._bytes, dtype=np.uint8))

    def __sub__(self, other: "GridHash") -> int:
        if not isinstance(other, GridHash):
            return NotImplemented
        x = np.bitwise_xor(np.frombuffer(self._bytes, np.uint8), np.frombuffer(other._bytes, np.uint8))
        return int(np.unpackbits(x).sum())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GridHash) and self._bytes == other._bytes

    def __hash__(self) -> int:
        return hash(self._bytes)

    def __len__(self) -> int:
        return HASH_BITS

    def __str__(self) -> str:
        return self.hex()

    def __repr__(self) -> str:
        return f"GridHash('{self.hex()}')"
