import numpy as np
import pytest
from PIL import Image

from lookalike.models.embed import edits
from lookalike.models.orientation import CHANNEL_ORDERS, DIHEDRAL_NAMES, channel_order, dihedral, orientation_variants

#: What each dihedral name means, in PIL's words (an independent statement of the table).
PIL_OPS = {
    "rot0": [], "rot90": [Image.Transpose.ROTATE_90], "rot180": [Image.Transpose.ROTATE_180],
    "rot270": [Image.Transpose.ROTATE_270], "flip_rot0": [Image.Transpose.FLIP_LEFT_RIGHT],
    "flip_rot90": [Image.Transpose.TRANSPOSE], "flip_rot180": [Image.Transpose.FLIP_TOP_BOTTOM],
    "flip_rot270": [Image.Transpose.TRANSVERSE],
}


def _image(seed: int, h: int = 5, w: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _pil(a: np.ndarray, name: str) -> np.ndarray:
    im = Image.fromarray(a)
    for op in PIL_OPS[name]:
        im = im.transpose(op)
    return np.asarray(im)


@pytest.mark.parametrize("seed", range(3))
def test_dihedral_names_mean_what_pil_does(seed):
    a = _image(seed)
    assert len(set(DIHEDRAL_NAMES)) == 8
    for i, name in enumerate(DIHEDRAL_NAMES):
        assert np.array_equal(dihedral(a, i), _pil(a, name)), name
        assert np.array_equal(dihedral(a, name), dihedral(a, i))
        assert np.array_equal(np.asarray(edits.dihedral(Image.fromarray(a), name)), _pil(a, name))


def test_dihedral_over_other_axes_and_bad_index():
    stack = np.stack([_image(1), _image(2)])  # (2, H, W, 3): rows and columns are axes 1 and 2
    out = dihedral(stack, "rot90", axes=(1, 2))
    assert all(np.array_equal(out[i], dihedral(stack[i], "rot90")) for i in range(2))
    with pytest.raises(ValueError):
        dihedral(stack, 8)


def test_channel_orders_are_the_six_permutations():
    a = _image(4)
    assert sorted(CHANNEL_ORDERS) == sorted({(0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)})
    assert CHANNEL_ORDERS[0] == (0, 1, 2)
    for k, order in enumerate(CHANNEL_ORDERS):
        want = np.stack([a[..., c] for c in order], axis=-1)
        assert np.array_equal(channel_order(a, k), want)
        assert np.array_equal(np.asarray(edits.channel_order(Image.fromarray(a), k)), want)


def test_variants_follow_pil_transforms():
    a = _image(5, 40, 60)
    v = orientation_variants(a)
    assert len(v) == 13
    im = Image.fromarray(a)
    # the grid's order: k counter-clockwise quarter turns, then the same after a left-right mirror
    expect = [im.rotate(90 * k, expand=True) for k in range(4)]
    m = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    expect += [m.rotate(90 * k, expand=True) for k in range(4)]
    for got, want in zip(v[:8], expect):
        np.testing.assert_array_equal(got, np.asarray(want))
    np.testing.assert_array_equal(v[8], a[..., [0, 2, 1]])
    np.testing.assert_array_equal(v[12], a[..., [2, 1, 0]])




def test_same_variants_are_the_ones_that_leave_the_pixels_alone():
    from lookalike.models.orientation import same_variants

    from ..conftest import random_image

    rng = np.random.default_rng(7)
    color = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    assert not same_variants(color).any()
    gray = np.repeat(rng.integers(0, 256, (40, 60, 1), dtype=np.uint8), 3, axis=2)
    assert same_variants(gray).tolist() == [False] * 7 + [True] * 5  # every channel order, no turn
    half = random_image(rng, 40, 30)  # smooth: a thumbnail of a symmetric picture stays symmetric
    mirror_symmetric = np.concatenate([half, half[:, ::-1]], axis=1)
    assert same_variants(mirror_symmetric)[3]  # flip_rot0: the left-right mirror (index 4 - 1)
    assert same_variants(mirror_symmetric).sum() == 1
