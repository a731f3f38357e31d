from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from lookalike.models import find_crop, ncc_map

from ...conftest import random_image


def _chw(a):
    return torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1).double() / 255


@pytest.mark.parametrize("seed", range(12))
def test_ncc_map_matches_opencv(seed):
    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(20, 90)), int(rng.integers(20, 90))
    img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    th, tw = int(rng.integers(2, h // 2 + 2)), int(rng.integers(2, w // 2 + 2))
    tpl = rng.integers(0, 256, (th, tw, 3), dtype=np.uint8)
    ours = ncc_map(_chw(img), _chw(tpl)).numpy()
    ref = cv2.matchTemplate(img, tpl, cv2.TM_CCOEFF_NORMED)
    assert ours.shape == ref.shape
    assert np.abs(ours - ref).max() < 1e-3


@pytest.mark.parametrize("seed", range(10))
def test_unscaled_crop_found_exactly(device, seed):
    rng = np.random.default_rng(100 + seed)
    H, W = int(rng.integers(150, 400)), int(rng.integers(150, 400))
    img = random_image(rng, H, W)
    img = np.clip(img.astype(int) + rng.integers(-20, 20, img.shape), 0, 255).astype(np.uint8)
    h, w = int(rng.integers(20, H // 2)), int(rng.integers(20, W // 2))
    y, x = int(rng.integers(0, H - h)), int(rng.integers(0, W - w))
    m = find_crop(img, img[y:y + h, x:x + w], device=device)[0]
    assert m.box == (x, y, w, h)
    assert m.score > 0.999
    ref = cv2.minMaxLoc(cv2.matchTemplate(img, img[y:y + h, x:x + w], cv2.TM_CCOEFF_NORMED))[3]
    assert ref == (x, y)


def test_flat_inputs_are_defined():
    img = np.full((40, 50, 3), 100, np.uint8)
    img[:, 25:] = 200
    flat = np.full((10, 10, 3), 200, np.uint8)
    s = ncc_map(_chw(img), _chw(flat))
    assert torch.isfinite(s).all()
    m = find_crop(img, flat)[0]
    assert m.box[0] >= 25 and m.score == pytest.approx(1.0)


def test_crop_larger_than_image_is_an_error():
    with pytest.raises(ValueError, match="larger"):
        find_crop(np.zeros((10, 10, 3), np.uint8), np.zeros((20, 5, 3), np.uint8))


def test_top_k_returns_separate_occurrences():
    rng = np.random.default_rng(5)
    img = np.zeros((100, 200, 3), np.uint8) + rng.integers(0, 30, (100, 200, 3), dtype=np.uint8)
    patch = random_image(rng, 20, 20)
    img[10:30, 10:30] = patch
    img[60:80, 150:170] = patch
    boxes = sorted(m.box for m in find_crop(img, patch, top_k=2))
    assert boxes == [(10, 10, 20, 20), (150, 60, 20, 20)]


def test_rescaled_crop_found_with_scales(device):
    rng = np.random.default_rng(6)
    img = random_image(rng, 300, 400)
    crop = img[50:170, 100:260]
    small = cv2.resize(crop, (128, 96), interpolation=cv2.INTER_AREA)
    m = find_crop(img, small, scales=[1.0, 1.25, 1.5], device=device)[0]
    assert m.scale == 1.25
    assert abs(m.box[0] - 100) <= 2 and abs(m.box[1] - 50) <= 2


def test_fft_sizes_are_the_smallest_5_smooth_lengths():
    from lookalike.models.ops.crop import _fft_size

    def smooth(m):
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        return m == 1

    for n in range(1, 2100):
        f = _fft_size(n)
        assert f >= n and smooth(f) and not any(smooth(m) for m in range(n, f)), n
