import numpy as np
import pytest
from scipy import ndimage
from skimage.segmentation import chan_vese as sk_chan_vese

from lookalike.models.ops.chan_vese import chan_vese


def iou(a, b):
    return (a & b).sum() / (a | b).sum()


@pytest.mark.parametrize("seed", range(3))
def test_chan_vese_agrees_with_skimage_and_truth(device, seed):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:80, :100]
    truth = ((yy - 40 - rng.integers(-10, 10)) ** 2 / 400 + (xx - 50 - rng.integers(-15, 15)) ** 2 / 700) < 1
    img = ndimage.gaussian_filter(truth * 0.6 + 0.2, 2) + rng.normal(0, 0.05, truth.shape)
    ours = chan_vese(img, device=device).cpu().numpy()
    ref = sk_chan_vese(img, mu=0.25)
    assert iou(ours, ref) > 0.97 or iou(~ours, ref) > 0.97
    assert max(iou(ours, truth), iou(~ours, truth)) > 0.95


def test_chan_vese_flat_image_and_bad_shape():
    assert chan_vese(np.full((10, 12), 7.0)).shape == (10, 12)
    with pytest.raises(ValueError, match="grayscale"):
        chan_vese(np.zeros((2, 3, 4, 5)))
