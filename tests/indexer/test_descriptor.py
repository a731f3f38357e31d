from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from lookalike.indexer.descriptor import (
    DESCRIPTOR_DIM, describe_boxes, dihedral_variants, orientation_margin,
)

from lookalike.models.orientation import DIHEDRAL_NAMES

from ..conftest import random_image


def _whole(a: np.ndarray):
    h, w = a.shape[:2]
    return describe_boxes(np.ascontiguousarray(a), w, h, np.array([[0, 0, w, h]]))


def test_vectors_are_unit_float32():
    rng = np.random.default_rng(1)
    a = random_image(rng, 120, 160)
    d = describe_boxes(a, 160, 120, np.array([[0, 0, 160, 120], [10, 10, 50, 50], [100, 60, 60, 60]]))
    assert d.vectors.shape == (3, DESCRIPTOR_DIM) and d.vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(d.vectors, axis=1), 1.0, atol=1e-5)


def test_flat_boxes_are_low_information():
    a = np.full((64, 64, 3), 120, np.uint8)
    a[:, 32:] = (10, 200, 30)
    d = describe_boxes(a, 64, 64, np.array([[0, 0, 32, 32], [0, 0, 64, 64]]))
    assert d.low_info.tolist() == [True, False]


def test_resized_copy_is_close_and_mirror_is_not():
    rng = np.random.default_rng(2)
    a = random_image(rng, 200, 300)
    half = np.asarray(Image.fromarray(a).resize((150, 100), Image.Resampling.LANCZOS))
    v = _whole(a).vectors[0]
    assert v @ _whole(half).vectors[0] > 0.95
    assert v @ _whole(half).vectors[0] > v @ _whole(a[:, ::-1]).vectors[0]


def test_descriptor_of_decoded_scale_matches_full_scale():
    rng = np.random.default_rng(3)
    a = random_image(rng, 400, 600)
    small = np.asarray(Image.fromarray(a).resize((300, 200), Image.Resampling.BOX))
    boxes = np.array([[0, 0, 600, 400], [100, 100, 200, 200]])
    full = describe_boxes(a, 600, 400, boxes).vectors
    draft = describe_boxes(small, 600, 400, boxes).vectors
    assert np.all(np.sum(full * draft, axis=1) > 0.99)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), side=st.sampled_from([32, 48, 64, 96]))
def test_dihedral_variants_equal_describing_transformed_pixels(seed, side):
    """Property: the descriptor-space dihedral transform commutes with transforming pixels."""
    a = random_image(np.random.default_rng(seed), side, side)
    v = _whole(a).vectors
    variants = dihedral_variants(v)
    for i, name in enumerate(DIHEDRAL_NAMES):
        t = np.rot90(np.fliplr(a) if name.startswith("flip") else a, i % 4)
        assert float(_whole(t).vectors[0] @ variants[i, 0]) > 0.99, name  # resampling rounds cells


def test_orientation_margin_prefers_upright():
    a = random_image(np.random.default_rng(4), 96, 96)
    v = _whole(a).vectors
    variants = dihedral_variants(v)[:, 0]
    assert orientation_margin(variants, v)[0] > 0
    mirrored = _whole(np.ascontiguousarray(a[:, ::-1])).vectors
    assert orientation_margin(variants, mirrored)[0] < 0
