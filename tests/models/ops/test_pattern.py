from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from lookalike.models import find_pattern, match_maps, parse_pattern, pattern_variants


def brute(img, p):
    h, w = p.shape
    res = set()
    for y in range(img.shape[0] - h + 1):
        for x in range(img.shape[1] - w + 1):
            win = img[y:y + h, x:x + w]
            if np.all(win[p == 1] == 1) and np.all(win[p == 0] == 0):
                res.add((y, x))
    return res


patterns = st.integers(1, 5).flatmap(
    lambda h: st.integers(1, 5).flatmap(
        lambda w: st.lists(st.lists(st.sampled_from("01."), min_size=w, max_size=w), min_size=h, max_size=h)
    )
).map(lambda rows: "/".join("".join(r) for r in rows)).filter(lambda s: set(s) - {".", "/"})


@settings(max_examples=60, deadline=None)
@given(spec=patterns, seed=st.integers(0, 2**16), density=st.sampled_from([0.2, 0.5, 0.8]))
def test_matches_scipy_and_brute_force_for_every_variant(device, spec, seed, density):
    rng = np.random.default_rng(seed)
    imgs = (rng.random((3, 11, 9)) < density)
    names, maps = match_maps(imgs, spec, device=device)
    vs = dict(pattern_variants(spec))
    for n in range(len(imgs)):
        for vi, name in enumerate(names):
            got = {tuple(p) for p in np.argwhere(maps[n, vi].cpu().numpy())}
            ref = brute(imgs[n].astype(np.uint8), vs[name])
            assert got == ref, (spec, name)
            p = vs[name]
            if (p == 1).any() and (p == 0).any():
                # scipy centres the structure; structures reaching outside never fire there
                hm = ndimage.binary_hit_or_miss(imgs[n], structure1=p == 1, structure2=p == 0)
                h, w = p.shape
                sc = {(y - h // 2, x - w // 2) for y, x in np.argwhere(hm)}
                sc = {(y, x) for y, x in sc if 0 <= y <= 11 - h and 0 <= x <= 9 - w}
                assert got == sc, (spec, name)


@pytest.mark.parametrize("seed", range(5))
def test_opencv_hitmiss_agrees(seed):
    rng = np.random.default_rng(seed)
    img = (rng.random((30, 40)) < 0.5).astype(np.uint8)
    spec = "10./011"
    p = parse_pattern(spec)
    k = np.where(p == 1, 1, np.where(p == 0, -1, 0)).astype(np.int32)
    cv = cv2.morphologyEx(img, cv2.MORPH_HITMISS, k, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    names, maps = match_maps(img, spec, variants="none")
    h, w = p.shape
    ocv = {(y - h // 2, x - w // 2) for y, x in np.argwhere(cv)}  # OpenCV anchors at the kernel centre
    ocv = {(y, x) for y, x in ocv if 0 <= y <= 30 - h and 0 <= x <= 40 - w}
    assert {tuple(q) for q in np.argwhere(maps[0, 0].numpy())} == ocv


def test_variant_names_and_dedup():
    assert [n for n, _ in pattern_variants("11/11")] == ["rot0"]
    assert [n for n, _ in pattern_variants("1000/1111")] == list(
        ["rot0", "rot90", "rot180", "rot270", "flip_rot0", "flip_rot90", "flip_rot180", "flip_rot270"])
    assert [n for n, _ in pattern_variants("101")] == ["rot0", "rot90"]
    assert [n for n, _ in pattern_variants("1000/1111", "rotations")] == ["rot0", "rot90", "rot180", "rot270"]
    v = dict(pattern_variants("1000/1111"))
    assert np.array_equal(v["rot90"], np.rot90(parse_pattern("1000/1111")))
    assert np.array_equal(v["flip_rot0"], np.fliplr(parse_pattern("1000/1111")))


def test_find_pattern_reports_variant_positions():
    img = np.zeros((6, 6), np.uint8)
    img[1, 1:4] = 1
    img[2, 1] = 1  # an L: "111/100" at (x=1, y=1)
    res = find_pattern(img, "111/100", variants="all")[0]
    assert [(m.x, m.y, m.variant) for m in res] == [(1, 1, "rot0")]
    assert find_pattern(img * 255, "111/100")[0][0].variant == "rot0"  # 0/255 binarized at half max
    res = find_pattern(np.rot90(img).copy(), "111/100")[0]
    assert [m.variant for m in res] == ["rot90"]


@pytest.mark.parametrize("bad", ["", "12", "10/1", "../..", "1//1"])
def test_bad_patterns(bad):
    with pytest.raises(ValueError):
        parse_pattern(bad)


def test_batches_do_not_change_results():
    rng = np.random.default_rng(9)
    imgs = (rng.random((7, 12, 10)) < 0.5).astype(np.uint8) * 200
    imgs[3] = 0  # an empty image: "half of the maximum" is the stack's, not the batch's
    whole = find_pattern(imgs, "10/11")
    assert find_pattern(imgs, "10/11", batch=2) == whole
    assert whole[3] == []


@settings(max_examples=40, deadline=None)
@given(spec=patterns, seed=st.integers(0, 2**16), w=st.integers(1, 62), h=st.integers(1, 12))
def test_bit_parallel_and_convolution_agree(spec, seed, w, h):
    rng = np.random.default_rng(seed)
    imgs = rng.random((4, h, w)) < 0.5
    _, bits = match_maps(imgs, spec, method="bits")
    _, conv = match_maps(imgs, spec, method="conv")
    assert torch.equal(bits, conv)


def test_wide_images_use_convolution():
    img = np.zeros((5, 100), bool)
    img[2, 90:93] = True
    assert [(m.x, m.y) for m in find_pattern(img, "111")[0]] == [(90, 2)]
