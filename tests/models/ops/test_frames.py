import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lookalike.models import BackgroundStream, estimate_background, frame_diff, true_median


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), tol=st.floats(0, 60))
def test_frame_diff_matches_numpy(device, seed, tol):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (7, 9, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-30, 31, a.shape), 0, 255).astype(np.uint8)
    kept, changed = frame_diff(a, b, tol, fill=(1, 2, 3), device=device)
    d = np.sqrt(((a.astype(float) - b.astype(float)) ** 2).sum(-1))
    assert np.array_equal(changed.cpu().numpy(), d > tol)
    expect = np.where((d > tol)[..., None], np.array([1, 2, 3], np.uint8), a)
    assert np.array_equal(kept.permute(1, 2, 0).cpu().numpy(), expect) and kept.dtype == torch.uint8


def test_frame_diff_batches_and_errors():
    a = torch.zeros((2, 3, 4, 4), dtype=torch.uint8)
    b = a.clone()
    b[1, :, 0, 0] = 200
    kept, changed = frame_diff(a, b)
    assert changed.shape == (2, 4, 4) and int(changed.sum()) == 1 and bool(changed[1, 0, 0])
    with pytest.raises(ValueError, match="differ in shape"):
        frame_diff(a, b[:1])
    with pytest.raises(ValueError, match="fill"):
        frame_diff(a, b, fill=(0, 0))


@pytest.mark.parametrize("n", [1, 2, 5, 6, 31])
def test_true_median_is_numpys_median(n):
    x = torch.randint(0, 256, (n, 3, 4, 5), dtype=torch.uint8)
    assert torch.allclose(true_median(x), torch.from_numpy(np.median(x.numpy(), axis=0)).float())
    assert not torch.equal(true_median(torch.tensor([[1.0], [2.0]])), torch.tensor([1.0]))  # not the lower median


def test_background_ignores_objects_passing_through(device):
    rng = np.random.default_rng(0)
    bg = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    frames = np.repeat(bg[None], 30, axis=0).copy()
    for t in range(30):  # a block crossing the frame covers each pixel in 8 of 30 frames
        x = 2 * t
        frames[t, 10:30, x:x + 8] = (255, 0, 0)
    est = estimate_background(frames, chunk_rows=7, device=device)
    assert est.shape == (3, 40, 60) and est.dtype == torch.float32
    assert torch.equal(est.permute(1, 2, 0).cpu(), torch.from_numpy(bg).float())


def test_stream_is_exact_up_to_its_base_and_close_beyond():
    rng = np.random.default_rng(1)
    bg = rng.integers(0, 256, (12, 16, 3)).astype(np.float32)
    frames = np.clip(bg[None] + rng.normal(0, 3, (200, 12, 16, 3)), 0, 255).astype(np.uint8)
    s = BackgroundStream(base=64)
    for f in frames[:50]:
        s.update(f)
    assert torch.allclose(s.result(), torch.from_numpy(np.median(frames[:50], axis=0)).permute(2, 0, 1).float())
    s = BackgroundStream(base=9)
    for f in frames:
        s.update(f)
    assert s.count == 200
    assert float((s.result() - torch.from_numpy(bg).permute(2, 0, 1)).abs().mean()) < 1.5
    with pytest.raises(ValueError, match="differ in shape"):
        s.update(frames[0, :5])
