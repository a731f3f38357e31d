import logging

import numpy as np
import pytest
from PIL import Image, ImageDraw

from lookalike.models.ops.static_overlay import static_layer
from lookalike.models.io.video import read_frames

from ...conftest import random_image
from ..video_helpers import make_video

H, W = 240, 320


def layer():
    """Opaque bars and a thin line (alpha 1), a half-transparent dark panel (alpha 0.5)."""
    cover = Image.new("L", (W, H))
    d = ImageDraw.Draw(cover)
    for i in range(6):
        d.rectangle([20 + 14 * i, 20, 22 + 14 * i, 36], fill=255)  # text-like strokes, 3 px wide
    d.line([150, 80, 300, 80], fill=255, width=2)
    opaque = np.asarray(cover) > 127
    panel = np.zeros((H, W), bool)
    panel[170:215, 30:200] = True
    return opaque, panel


def pan_video(tmp_path, step=(0.45, 1.3), frames=16):
    rng = np.random.default_rng(3)
    src = Image.fromarray(random_image(rng, H + 60, W + 60))
    opaque, panel = layer()
    out = []
    for t in range(frames):
        x, y = 10 + step[1] * t, 10 + step[0] * t
        bg = np.asarray(src.transform((W, H), Image.AFFINE, (1, 0, x, 0, 1, y), resample=Image.BILINEAR), np.float64)
        img = np.where(panel[..., None], 0.5 * bg + 0.5 * np.array([20.0, 20, 40]), bg)
        img = np.where(opaque[..., None], np.array([255.0, 255, 255]), img)
        out.append(np.round(img).astype(np.uint8))
    make_video(tmp_path / "v.mkv", np.stack(out), crf=23)
    return read_frames([tmp_path / "v.mkv"]), opaque, panel


def test_finds_opaque_and_translucent_parts_of_a_layer_over_a_pan(device, tmp_path):
    frames, opaque, panel = pan_video(tmp_path)
    res = static_layer(frames, device=device)
    mask = res.mask.cpu().numpy()
    truth = opaque | panel
    assert (mask & opaque).sum() / opaque.sum() > 0.8
    assert (mask & ~truth).sum() / (~truth).sum() < 0.01
    moved = res.shifts.cpu().numpy() - res.shifts.cpu().numpy()[0]  # the camera moves by +step: the content by -step
    assert np.abs(moved + np.arange(len(moved))[:, None] * np.array([0.45, 1.3])).max() < 0.2
    alpha = res.rgba[3].cpu().numpy()
    found_panel = mask & panel
    assert found_panel.sum() > 0.2 * panel.sum()
    assert abs(np.median(alpha[found_panel]) - 0.5) < 0.15
    assert np.median(alpha[mask & opaque]) > 0.85
    assert res.rgba.shape == (4, H, W) and float(res.rgba.max()) <= 1


def test_a_static_camera_gives_an_empty_layer_and_a_warning(tmp_path, caplog):
    frames, _, _ = pan_video(tmp_path, step=(0.0, 0.0), frames=6)
    with caplog.at_level(logging.WARNING):
        res = static_layer(frames)
    assert not res.mask.any() and any("does not move" in r.message for r in caplog.records)


def test_bad_input():
    with pytest.raises(ValueError, match="at least 3 frames"):
        static_layer(np.zeros((2, 8, 8, 3), np.uint8))


def test_public_name():
    import lookalike.models

    assert lookalike.models.static_layer is static_layer  # not shadowed by a submodule of that name


def test_between_matches_a_brute_force_scan():
    import torch

    from lookalike.models.ops.static_overlay import _between

    rng = np.random.default_rng(5)
    for _ in range(30):
        on = rng.random((int(rng.integers(1, 12)), int(rng.integers(1, 12)))) < 0.2
        reach = int(rng.integers(1, 5))
        want = np.zeros_like(on)
        h, w = on.shape
        for y in range(h):
            for x in range(w):
                row = on[y, max(0, x - reach):x].any() and on[y, x + 1:x + 1 + reach].any()
                col = on[max(0, y - reach):y, x].any() and on[y + 1:y + 1 + reach, x].any()
                want[y, x] = row or col
        assert np.array_equal(_between(torch.from_numpy(on), reach).numpy(), want)


def test_trim_halo_drops_faint_edge_pixels_only():
    import torch

    from lookalike.models.ops.static_overlay import _trim_halo

    mask = torch.zeros((9, 9), dtype=torch.bool)
    mask[2:7, 2:7] = True
    alpha = torch.where(mask, 0.6, 0.0)
    alpha[2, 4] = 0.2  # faint, on the edge: halo
    alpha[4, 2] = 0.4  # on the edge, over half the shape's opacity: kept
    alpha[4, 4] = 0.1  # faint but inside: kept
    kept = _trim_halo(mask, alpha)
    assert not kept[2, 4] and kept[4, 2] and kept[4, 4]
    assert int(kept.sum()) == 24


def test_trim_halo_by_contrast_takes_the_strongest_pixel_of_the_layer_as_reference():
    """Brightness contrast as the strength: an edge pixel under half of the strongest layer
    pixel near it goes, whatever the background's own contrast outside the layer."""
    import torch

    from lookalike.models.ops.static_overlay import _trim_halo

    mask = torch.zeros((9, 9), dtype=torch.bool)
    mask[2:7, 2:7] = True
    contrast = torch.full((9, 9), 200.0)  # outside the layer: ignored
    contrast[mask] = 40.0
    contrast[2, 3], contrast[2, 5] = 10.0, 25.0  # under half of 40 / over half
    kept = _trim_halo(mask, contrast)
    assert not kept[2, 3] and kept[2, 5]
    assert int(kept.sum()) == 24


def test_extend_panels_finishes_a_panel_found_in_part():
    """A translucent panel wider than the pan, found but for its right end: the third panorama
    (everything near the panel left out) sees the scene beyond it, and the rest is between."""
    import torch

    from lookalike.models.ops.static_overlay import _extend_panels

    h, w, frames, step = 90, 220, 16, 1.2
    rng = np.random.default_rng(11)
    src = Image.fromarray(random_image(rng, h + 10, w + 40))
    panel = np.zeros((h, w), bool)
    panel[25:65, 20:150] = True
    color = np.array([30.0, 40.0, 20.0])
    video = []
    for t in range(frames):
        bg = np.asarray(src.transform((w, h), Image.AFFINE, (1, 0, 5 + step * t, 0, 1, 5), resample=Image.BILINEAR),
                        np.float64)
        video.append(np.where(panel[..., None], 0.5 * bg + 0.5 * color, bg))
    x = torch.from_numpy(np.stack(video)).permute(0, 3, 1, 2).float()
    shifts = torch.tensor([[0.0, -step * t] for t in range(frames)], dtype=torch.float64)
    shifts -= shifts[frames // 2].clone()
    found = torch.from_numpy(panel.copy())
    found[:, 136:] = False  # the right end was not found
    alpha = torch.where(found, 0.5, 0.0)
    col = torch.from_numpy(color).float()[:, None, None] * found
    mask, a, c = _extend_panels(x, shifts, found, alpha, col, reach=int(step * frames) + 4, sensitivity=1.0)
    mask = mask.numpy()
    missing = panel & ~found.numpy()
    assert (mask & missing).sum() > 0.8 * missing.sum()
    assert (mask & ~panel).sum() < 0.02 * missing.sum()
    assert abs(float(a[30, 145]) - 0.5) < 1e-6 and torch.allclose(c[:, 30, 145], torch.from_numpy(color).float())
