import logging

import numpy as np
import pytest
from PIL import Image, ImageDraw

from lookalike.models.static_overlay import static_layer
from lookalike.models.video import read_frames

from ..conftest import random_image
from .video_helpers import make_video

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


def test_finds_opaque_and_translucent_parts_of_a_layer_over_a_pan(tmp_path):
    frames, opaque, panel = pan_video(tmp_path)
    res = static_layer(frames)
    mask = res.mask.numpy()
    truth = opaque | panel
    assert (mask & opaque).sum() / opaque.sum() > 0.8
    assert (mask & ~truth).sum() / (~truth).sum() < 0.01
    moved = res.shifts.numpy() - res.shifts.numpy()[0]  # the camera moves by +step: the content by -step
    assert np.abs(moved + np.arange(len(moved))[:, None] * np.array([0.45, 1.3])).max() < 0.2
    alpha = res.rgba[3].numpy()
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
