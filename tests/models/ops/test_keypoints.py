"""Keypoints: scale covariance (the same place at another size), upright descriptors, inputs."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from lookalike.models.ops.keypoints import DESCRIPTOR_DIM, detect_keypoints


def texture(seed: int, h: int = 240, w: int = 320) -> np.ndarray:
    """Detail at several scales, no symmetry: blobs of random color summed over octaves."""
    rng = np.random.default_rng(seed)
    out = np.zeros((h, w, 3))
    for cells in (4, 8, 16, 32, 64, 128):
        small = rng.random((cells, cells * w // h, 3))
        out += np.asarray(Image.fromarray((small * 255).astype(np.uint8)).resize((w, h), Image.Resampling.BICUBIC),
                          np.float64) / cells ** 0.5
    out = (out - out.min()) / np.ptp(out) * 255
    return out.astype(np.uint8)


def _matches(a, b, tol_xy, map_xy):
    """Keypoints of ``a`` whose mapped place holds a keypoint of ``b`` with a close descriptor."""
    pred = map_xy(a.xy)
    d = np.hypot(*(b.xy[None] - pred[:, None]).transpose(2, 0, 1))
    sim = a.descriptors @ b.descriptors.T
    return int(((d < tol_xy) & (sim > 0.9)).any(1).sum())


def test_shapes_dtypes_and_inputs(device):
    px = texture(1)
    kp = detect_keypoints(px, max_points=100, device=device)
    assert 20 <= len(kp) <= 100
    assert kp.xy.dtype == kp.scale.dtype == kp.descriptors.dtype == np.float32
    assert kp.descriptors.shape == (len(kp), DESCRIPTOR_DIM)
    np.testing.assert_allclose(np.linalg.norm(kp.descriptors, axis=1), 1, atol=1e-5)
    assert (kp.xy[:, 0] >= 0).all() and (kp.xy[:, 0] < 320).all() and (kp.scale > 1).all()
    assert len(detect_keypoints(np.full((100, 100, 3), 128, np.uint8))) == 0  # nothing to find on a flat picture
    assert len(detect_keypoints(np.zeros((8, 8, 3), np.uint8))) == 0
    with pytest.raises(ValueError):
        detect_keypoints(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError):
        detect_keypoints(px, max_points=0)


def test_same_on_cpu_and_device(device):
    px = texture(2)
    a, b = detect_keypoints(px, 80), detect_keypoints(px, 80, device=device)
    assert len(a) == len(b)
    np.testing.assert_allclose(a.xy, b.xy, atol=1e-2)
    np.testing.assert_allclose(a.descriptors, b.descriptors, atol=1e-3)


@pytest.mark.parametrize("seed", [3, 4, 5])
@pytest.mark.parametrize("k", [0.6, 1.5])
def test_a_resized_copy_gives_the_same_places_at_the_same_scale(seed, k):
    px = texture(seed)
    h, w = px.shape[:2]
    big = np.asarray(Image.fromarray(px).resize((round(w * k), round(h * k)), Image.Resampling.BICUBIC))
    a, b = detect_keypoints(px, 300), detect_keypoints(big, 300)
    found = _matches(a, b, 3 + 2 * k, lambda xy: xy * k)
    assert found >= 0.2 * len(a), (found, len(a))


@pytest.mark.parametrize("op", [Image.Transpose.FLIP_LEFT_RIGHT, Image.Transpose.ROTATE_90])
def test_descriptors_are_upright(op):
    """A mirrored or rotated picture's places come back, but their descriptors differ."""
    px = texture(6)
    h, w = px.shape[:2]
    moved = np.asarray(Image.fromarray(px).transpose(op))
    if op == Image.Transpose.FLIP_LEFT_RIGHT:
        where = lambda xy: np.stack([w - 1 - xy[:, 0], xy[:, 1]], 1)  # noqa: E731
    else:
        where = lambda xy: np.stack([xy[:, 1], w - 1 - xy[:, 0]], 1)  # noqa: E731
    a, b = detect_keypoints(px, 300), detect_keypoints(moved, 300)
    same = _matches(a, detect_keypoints(px.copy(), 300), 2, lambda xy: xy)
    assert same >= 0.9 * len(a)
    assert _matches(a, b, 3, where) < 0.1 * len(a)
