from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from lookalike.models import ImageLoadError, SkipReason, load_image
from lookalike.models.io.images import to_rgb


def _save(tmp_path, im, name, **kw):
    p = tmp_path / name
    im.save(p, **kw)
    return p


@pytest.mark.parametrize("mode", ["1", "L", "P", "RGB", "CMYK"])
def test_plain_modes_become_rgb(tmp_path, mode):
    base = Image.new("RGB", (40, 30), (200, 30, 90)).convert(mode)
    ext = "tiff" if mode == "CMYK" else "png"
    img = load_image(_save(tmp_path, base, f"a.{ext}"))
    assert img.pixels.shape == (30, 40, 3) and img.pixels.dtype == np.uint8
    assert (img.width, img.height) == (40, 30)


def test_alpha_is_composited_over_white(tmp_path):
    arr = np.zeros((10, 10, 4), np.uint8)
    arr[..., 0] = 255
    arr[:, :5, 3] = 255  # left half opaque red, right half fully transparent red
    img = load_image(_save(tmp_path, Image.fromarray(arr, "RGBA"), "a.png"))
    assert tuple(img.pixels[0, 0]) == (255, 0, 0)
    assert tuple(img.pixels[0, 9]) == (255, 255, 255)


def test_palette_transparency_and_la(tmp_path):
    p = Image.new("P", (8, 8), 1)
    p.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    p.info["transparency"] = 1
    img = load_image(_save(tmp_path, p, "p.png", transparency=1))
    assert tuple(img.pixels[0, 0]) == (255, 255, 255)
    la = Image.new("LA", (4, 4), (50, 255))
    assert tuple(load_image(_save(tmp_path, la, "la.png")).pixels[0, 0]) == (50, 50, 50)


def test_sixteen_bit_is_scaled_not_clipped(tmp_path):
    arr = np.array([[0, 1000, 30000, 65535]], dtype=np.uint16)
    im = Image.fromarray(arr)  # mode I;16
    img = load_image(_save(tmp_path, im, "g16.png"))
    got = img.pixels[0, :, 0].astype(int).tolist()
    assert got == [round(v / 257) for v in arr[0].tolist()]
    assert len(set(got)) == 4  # not all clipped to 255


def test_float_and_int_modes():
    f = Image.fromarray(np.array([[0.0, 0.5, 1.0]], np.float32), "F")
    assert to_rgb(f).getpixel((1, 0)) == (128, 128, 128)
    i = Image.fromarray(np.array([[0, 70000, 140000]], np.int32), "I")
    assert to_rgb(i).getpixel((2, 0)) == (255, 255, 255)
    assert to_rgb(i).getpixel((1, 0))[0] in (127, 128)


def test_exif_orientation_is_applied(tmp_path):
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :20] = (255, 0, 0)  # red left half
    im = Image.fromarray(arr)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    p = tmp_path / "o.jpg"
    im.save(p, exif=exif, quality=95)
    img = load_image(p)
    assert (img.width, img.height) == (20, 40)
    assert img.pixels.shape[:2] == (40, 20)
    assert img.pixels[2, 10, 0] > 200 and img.pixels[-3, 10, 0] < 60  # red ended on top


def test_animation_uses_first_frame(tmp_path):
    frames = [Image.new("RGB", (8, 8), c) for c in [(255, 0, 0), (0, 0, 255)]]
    p = tmp_path / "a.gif"
    frames[0].save(p, save_all=True, append_images=frames[1:])
    assert load_image(p).pixels[0, 0, 0] > 200


def test_draft_mode_decodes_smaller_but_keeps_geometry(tmp_path):
    im = Image.new("RGB", (1600, 1200), (10, 120, 200))
    p = _save(tmp_path, im, "big.jpg", quality=90)
    img = load_image(p, min_side=128)
    assert (img.width, img.height) == (1600, 1200)
    assert 128 <= min(img.pixels.shape[:2]) < 1200
    assert img.scale < 1


@pytest.mark.parametrize(
    "content,reason",
    [(b"", SkipReason.EMPTY), (b"hello, not an image", SkipReason.UNSUPPORTED)],
)
def test_bad_files_have_reasons(tmp_path, content, reason):
    p = tmp_path / "x.jpg"
    p.write_bytes(content)
    with pytest.raises(ImageLoadError) as err:
        load_image(p)
    assert err.value.reason is reason


def test_truncated_missing_and_too_large(tmp_path):
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(buf, "PNG")
    p = tmp_path / "t.png"
    p.write_bytes(buf.getvalue()[:-30])
    with pytest.raises(ImageLoadError) as err:
        load_image(p)
    assert err.value.reason in (SkipReason.TRUNCATED, SkipReason.UNREADABLE)
    with pytest.raises(ImageLoadError) as err:
        load_image(tmp_path / "nope.png")
    assert err.value.reason is SkipReason.MISSING
    big = _save(tmp_path, Image.new("RGB", (100, 100)), "b.png")
    with pytest.raises(ImageLoadError) as err:
        load_image(big, max_pixels=5000)
    assert err.value.reason is SkipReason.TOO_LARGE


def test_format_outside_allow_list_is_refused(tmp_path):
    p = _save(tmp_path, Image.new("RGB", (8, 8)), "x.ico")
    with pytest.raises(ImageLoadError) as err:
        load_image(p)
    assert err.value.reason is SkipReason.UNSUPPORTED


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(20, 400), st.integers(20, 400), st.integers(8, 160))
def test_smooth_shrink_is_the_embedders_own_resize(seed, h, w, side):
    """Pixels shrunk for an embedder (the index hands it those) are what the embedder's own
    antialiased bilinear resize makes of the full pixels (a query), to a level of rounding."""
    import torch
    import torch.nn.functional as F

    from lookalike.models.io.images import shrink_to_side

    pixels = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    small = shrink_to_side(pixels, side, smooth=True)
    if side >= min(h, w):
        assert small is pixels
        return
    t = torch.from_numpy(pixels).permute(2, 0, 1)[None].float()
    want = F.interpolate(t, size=small.shape[:2], mode="bilinear", antialias=True, align_corners=False)[0]
    assert np.abs(small.astype(np.float32) - want.permute(1, 2, 0).numpy()).max() <= 1.0
