from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from lookalike.indexer.descriptor import (
    DESCRIPTOR_DIM, channel_variants, describe_boxes, dihedral_variants,
)
from lookalike.indexer.fusion import GRID_ORIENTATION_MARGIN, orientation_excess, orientation_needs

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


def test_orientation_check_prefers_upright():
    a = random_image(np.random.default_rng(4), 96, 96)
    v = _whole(a).vectors
    variants = dihedral_variants(v)[:, 0]
    needs = orientation_needs(variants @ v[0], None, GRID_ORIENTATION_MARGIN)
    assert orientation_excess(v @ variants.T, None, needs)[0] >= 0
    mirrored = _whole(np.ascontiguousarray(a[:, ::-1])).vectors
    assert orientation_excess(mirrored @ variants.T, None, needs)[0] < 0


def _faint_texture(rng: np.random.Generator, h: int, w: int, base: int, amp: float) -> np.ndarray:
    """A texture with a standard deviation of ``amp`` (a share of 255) around a ``base`` gray."""
    t = random_image(rng, h, w).astype(np.float32).mean(axis=2)
    t = (t - t.mean()) / max(float(t.std()), 1e-6)
    return np.clip(base + t[..., None] * amp * 255 + np.zeros(3), 0, 255).astype(np.uint8)


def _near_uniform(rng: np.random.Generator, h: int, w: int, base: int) -> np.ndarray:
    """A blank wall or a sky: one color, a slope or a vignette of up to 15%, sensor noise."""
    yy, xx = np.mgrid[0:h, 0:w] / np.array([h, w])[:, None, None]
    shade = 1 + rng.uniform(-0.15, 0.15) * yy + rng.uniform(-0.08, 0.08) * xx \
        - rng.uniform(0, 0.15) * ((xx - 0.5) ** 2 + (yy - 0.5) ** 2) * 2
    a = base * shade[..., None] + rng.normal(0, 2, (h, w, 3))
    return np.clip(a, 0, 255).astype(np.uint8)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), base=st.integers(20, 230))
def test_detail_not_contrast_tells_informative_from_near_uniform(seed, base):
    """Property: a faint texture (standard deviation 3% of the range), even a dark one, is informative; a wall or a graded sky
    of any brightness (slope, vignette, noise) is not."""
    rng = np.random.default_rng(seed)
    assert not _whole(_faint_texture(rng, 120, 160, base, 0.03)).low_info[0]
    assert _whole(_near_uniform(rng, 120, 160, base)).low_info[0]


def test_dark_star_field_is_informative():
    rng = np.random.default_rng(5)
    a = np.zeros((300, 400, 3), np.uint8)
    ys, xs = rng.integers(0, 300, 1500), rng.integers(0, 400, 1500)
    a[ys, xs] = rng.integers(60, 255, (1500, 1))
    assert not _whole(a).low_info[0]


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 700), st.integers(1, 700), st.integers(0, 2**31))
def test_channel_variants_are_the_descriptors_of_reordered_pixels(w, h, seed):
    """channel_variants resamples once and reorders channels after: bit for bit what describing
    each channel order of the original pixels gives."""
    from lookalike.models.orientation import CHANNEL_ORDERS, channel_order

    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    whole = np.array([[0, 0, w, h]])
    want = np.stack([describe_boxes(np.ascontiguousarray(channel_order(pixels, k)), w, h, whole).vectors
                     for k in range(1, len(CHANNEL_ORDERS))])
    assert np.array_equal(channel_variants(pixels, w, h, whole), want)


def _tolerant_oracle(u: np.ndarray, v: np.ndarray) -> float:
    """One pair at a time, written from the definition: for each place an overlay may cover,
    its color cells left out (and each gradient cell with any of them under it), both sides
    re-centred and normalized on the rest; the best of those and the plain cosine."""
    from lookalike.indexer.descriptor import (COLOR_GRID, COLOR_WEIGHT, GRAD_BINS, GRAD_GRID, GRAD_WEIGHT,
                                              overlay_masks)

    n = COLOR_GRID * COLOR_GRID
    cu, cv = u[: 3 * n].reshape(n, 3), v[: 3 * n].reshape(n, 3)
    gu = u[3 * n: 3 * n + GRAD_GRID * GRAD_GRID * GRAD_BINS].reshape(-1, GRAD_BINS)
    gv = v[3 * n: 3 * n + GRAD_GRID * GRAD_GRID * GRAD_BINS].reshape(-1, GRAD_BINS)

    def unit(c):
        c = c - c.mean(axis=0)
        return c / max(np.linalg.norm(c), 1e-12)

    best = float(u @ v)
    step = COLOR_GRID // GRAD_GRID
    for keep in overlay_masks():
        out = [i for i in range(n) if not keep[i]]
        kept = [i for i in range(n) if keep[i]]
        color = float((unit(cu[kept]) * unit(cv[kept])).sum())
        gkept = [g for g in range(GRAD_GRID * GRAD_GRID)
                 if not any((i // COLOR_GRID) // step * GRAD_GRID + (i % COLOR_GRID) // step == g for i in out)]
        a, b = gu[gkept], gv[gkept]
        grad = float((a * b).sum() / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))
        wc, wg = COLOR_WEIGHT ** 2, GRAD_WEIGHT ** 2
        best = max(best, (wc * color + wg * grad) / (wc + wg))
    return best


def test_overlay_masks_are_the_places_overlays_sit():
    from lookalike.indexer.descriptor import COLOR_GRID, overlay_masks

    m = overlay_masks().reshape(-1, COLOR_GRID, COLOR_GRID)
    assert m.dtype == bool and len({mm.tobytes() for mm in m}) == len(m)  # distinct
    covered = (~m).sum(axis=(1, 2))
    assert covered.min() == 4 and covered.max() <= COLOR_GRID * COLOR_GRID // 4  # a quarter at most
    bottom_two = np.ones((COLOR_GRID, COLOR_GRID), bool)
    bottom_two[-2:] = False
    assert any((mm == bottom_two).all() for mm in m)  # a caption box
    for r in range(COLOR_GRID):  # a line of text at any height
        band = np.ones((COLOR_GRID, COLOR_GRID), bool)
        band[r] = False
        assert any((mm == band).all() for mm in m)
    corners = [(0, 0), (0, -1), (-1, 0), (-1, -1)]
    for y, x in corners:  # a logo in each corner, and no mask leaves out two opposite corners
        assert any(not mm[y, x] and mm[-1 - y if y == 0 else 0, -1 - x if x == 0 else 0] for mm in m)
    assert not any(not mm[0, 0] and not mm[-1, -1] for mm in m)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31 - 1), st.floats(0.05, 1.0))
def test_tolerant_similarity_against_the_definition(seed, spread):
    from lookalike.indexer.descriptor import tolerant_similarity

    rng = np.random.default_rng(seed)
    a = rng.normal(size=(3, DESCRIPTOR_DIM))
    a /= np.linalg.norm(a, axis=1)[:, None]
    b = a[:2] + rng.normal(0, spread, (2, DESCRIPTOR_DIM))
    b /= np.linalg.norm(b, axis=1)[:, None]
    got = tolerant_similarity(a, b)
    want = np.array([[_tolerant_oracle(x, y) for y in b] for x in a])
    assert got.shape == (3, 2) and np.allclose(got, want, atol=1e-9)
    assert (got >= a @ b.T - 1e-12).all() and (got <= 1 + 1e-9).all()
    assert np.allclose(tolerant_similarity(b, a), got.T)  # the same either way round


def test_tolerant_similarity_forgives_an_overlay_not_another_picture():
    from lookalike.indexer.descriptor import tolerant_similarity
    from lookalike.models.embed.edits import caption_band, perspective, sticker
    from lookalike.models.orientation import dihedral
    import random

    rng = np.random.default_rng(3)
    dark = (random_image(rng, 240, 320).astype(np.float32) * 0.25).astype(np.uint8)  # a dark, detailed picture
    other = (random_image(rng, 240, 320).astype(np.float32) * 0.25).astype(np.uint8)
    src, oth = _whole(dark).vectors, _whole(other).vectors
    for edit, seed in [(caption_band, s) for s in range(3)] + [(sticker, s) for s in range(3)]:
        q = _whole(np.asarray(edit(Image.fromarray(dark), random.Random(seed)))).vectors
        plain, tol = float(q[0] @ src[0]), float(tolerant_similarity(q, src)[0, 0])
        assert tol > plain and tol > 0.9, (edit.__name__, plain, tol)
        assert float(tolerant_similarity(q, oth)[0, 0]) < 0.8
    for name in ("rot180", "flip_rot0"):  # a turned or mirrored copy is not an overlaid one
        turned = _whole(np.ascontiguousarray(dihedral(dark, name))).vectors
        assert float(tolerant_similarity(turned, src)[0, 0]) < 0.8, name
    warped = _whole(np.asarray(perspective(Image.fromarray(dark), random.Random(0)))).vectors
    assert float(tolerant_similarity(warped, src)[0, 0]) < 0.9
