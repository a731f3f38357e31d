import numpy as np
import torch
from PIL import Image

from lookalike.models.ops.panel_edges import extend_along_edges

from ...conftest import random_image

H, W, FRAMES, STEP = 100, 240, 20, 1.0
TRUE_A, TRUE_C = 0.5, np.array([30.0, 45.0, 20.0])


def scene(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Photo-like texture: large smooth areas with finer detail on top."""
    coarse = np.asarray(Image.fromarray(random_image(rng, h // 4, w // 4)).resize((w, h), Image.BICUBIC), np.float64)
    fine = random_image(rng, h, w).astype(np.float64)
    return np.clip(0.6 * coarse + 0.4 * fine, 0, 255).astype(np.uint8)


def panning(panel: np.ndarray, seed: int, vertical: bool = False) -> torch.Tensor:
    """``(T, 3, H, W)`` frames of a pan along x (or y) under a translucent panel."""
    rng = np.random.default_rng(seed)
    h, w = panel.shape
    src = Image.fromarray(scene(rng, h + 40, w + 40))
    frames = []
    for t in range(FRAMES):
        dx, dy = (5, 5 + STEP * t) if vertical else (5 + STEP * t, 5)
        bg = np.asarray(src.transform((w, h), Image.AFFINE, (1, 0, dx, 0, 1, dy), resample=Image.BILINEAR),
                        np.float64)
        frames.append(np.where(panel[..., None], (1 - TRUE_A) * bg + TRUE_A * TRUE_C, bg))
    return torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float()


def end_found(panel: np.ndarray, keep: slice, axis: int):
    """The layer as the per-pixel test leaves it: only one end of the panel, with a biased
    opacity and color (the fit there mixes panel and scene)."""
    found = np.zeros_like(panel)
    if axis == 1:
        found[:, keep] = panel[:, keep]
    else:
        found[keep, :] = panel[keep, :]
    found = torch.from_numpy(found)
    alpha = torch.where(found, 0.65, 0.0)
    color = torch.tensor([60.0, 45.0, 50.0])[:, None, None] * found
    return found, alpha, color


def test_a_panel_found_only_at_its_end_is_completed_along_its_edges():
    """Eight scenes; the evidence at an edge varies with the scene behind it, so the panel is
    not always recovered whole, but mostly is, and nothing spills outside it."""
    panel = np.zeros((H, W), bool)
    panel[30:70, 20:200] = True
    recalls, opacities = [], []
    for seed in range(8):
        x = panning(panel, seed)
        found, alpha, color = end_found(panel, slice(182, 201), axis=1)
        mask, a, c = extend_along_edges(x, found, alpha, color)
        mask = mask.numpy()
        recalls.append((mask & panel).sum() / panel.sum())
        assert (mask & ~panel).sum() < 0.03 * panel.sum()
        if recalls[-1] > 0.5:
            # the added part carries the opacity measured along the edges, not the piece's 0.65
            assert abs(float(a[50, 100]) - TRUE_A) < 0.2
            opacities.append(float(a[50, 100]))
    assert np.median(recalls) > 0.85
    assert sum(r > 0.9 for r in recalls) >= 4
    assert abs(np.median(opacities) - TRUE_A) < 0.05


def test_the_same_along_a_vertical_pan():
    panel = np.zeros((W, H), bool)
    panel[20:200, 30:70] = True
    x = panning(panel, 3, vertical=True)
    found, alpha, color = end_found(panel, slice(182, 201), axis=0)
    mask = extend_along_edges(x, found, alpha, color)[0].numpy()
    assert (mask & panel).sum() > 0.9 * panel.sum()
    assert (mask & ~panel).sum() < 0.03 * panel.sum()


def test_a_translucent_piece_with_no_panel_around_it_stays_as_it_is():
    """Nothing in the video is translucent: a piece found by mistake has no edges to follow."""
    panel = np.zeros((H, W), bool)
    x = panning(panel, 4)
    piece = np.zeros((H, W), bool)
    piece[30:70, 182:201] = True
    found, alpha, color = end_found(piece, slice(None), axis=1)
    mask = extend_along_edges(x, found, alpha, color)[0]
    assert int((mask & ~found).sum()) < 0.05 * int(found.sum())


def test_nothing_to_extend():
    x = panning(np.zeros((H, W), bool), 5)
    empty = torch.zeros((H, W), dtype=torch.bool)
    opaque = empty.clone()
    opaque[40:60, 40:80] = True  # opaque text-like shapes are not panels
    for m in (empty, opaque):
        out = extend_along_edges(x, m, m.float(), torch.zeros((3, H, W)))[0]
        assert torch.equal(out, m)
