import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lookalike.indexer import GridHash
from lookalike.indexer.descriptor import DESCRIPTOR_DIM
from lookalike.indexer.gridhash import HASH_BITS, hash_vectors

hashes = st.binary(min_size=HASH_BITS // 8, max_size=HASH_BITS // 8).map(GridHash)


@given(hashes)
def test_hex_round_trip(h):
    assert GridHash.from_hex(h.hex()) == h
    assert len(h.hex()) == HASH_BITS // 4
    assert h - h == 0


@given(hashes, hashes)
def test_hamming_is_symmetric_and_bounded(a, b):
    assert a - b == b - a
    assert 0 <= a - b <= HASH_BITS
    assert (a - b == 0) == (a == b)
    assert a - b == int(np.sum(a.bits != b.bits))


def test_bad_input():
    with pytest.raises(ValueError):
        GridHash.from_hex("zz")
    with pytest.raises(ValueError):
        GridHash(b"\x00" * 3)


def test_similar_vectors_have_close_hashes():
    rng = np.random.default_rng(0)
    v = rng.standard_normal((1, DESCRIPTOR_DIM)).astype(np.float32)
    near = v + 0.05 * rng.standard_normal((1, DESCRIPTOR_DIM)).astype(np.float32)
    far = rng.standard_normal((1, DESCRIPTOR_DIM)).astype(np.float32)
    hv, hn, hf = (GridHash(hash_vectors(x)[0]) for x in (v, near, far))
    assert hv - hn < 30 < hv - hf
