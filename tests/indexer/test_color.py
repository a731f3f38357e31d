import numpy as np

from lookalike.indexer.color import srgb_to_oklab


def test_reference_values():
    # reference values from Björn Ottosson's OKLab post
    rgb = np.array([[255, 255, 255], [0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]], np.uint8)
    lab = srgb_to_oklab(rgb)
    expected = np.array([
        [1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.627955, 0.224863, 0.125846],
        [0.866440, -0.233888, 0.179498], [0.452014, -0.032457, -0.311528],
    ])
    assert np.allclose(lab, expected, atol=2e-4)


def test_gray_has_no_chroma():
    g = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
    lab = srgb_to_oklab(g)
    assert np.abs(lab[:, 1:]).max() < 1e-3
    assert np.all(np.diff(lab[:, 0]) > 0)
