import numpy as np
import torch
from PIL import Image

from lookalike.models.ops.motion import estimate_shifts, phase_shifts, warp_translate

from ...conftest import random_image


def shifted_stack(shifts, h=96, w=128, seed=0):
    rng = np.random.default_rng(seed)
    src = Image.fromarray(random_image(rng, h + 40, w + 40))
    frames = []
    for dy, dx in shifts:
        # frame(y, x) = src(y - dy + 20, x - dx + 20): the content moved by (dy, dx)
        frames.append(np.asarray(src.transform((w, h), Image.AFFINE, (1, 0, 20 - dx, 0, 1, 20 - dy),
                                               resample=Image.BILINEAR)))
    return torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float()


def test_phase_correlation_finds_integer_shifts():
    truth = [(0, 0), (3, -5), (-7, 2), (10, 11)]
    got = phase_shifts(shifted_stack(truth))
    assert torch.allclose(got, torch.tensor(truth, dtype=torch.float64), atol=0.6)


def test_refinement_reaches_subpixel_accuracy():
    truth = [(0.0, 0.0), (0.4, -1.3), (-2.7, 0.8), (5.25, 3.6)]
    got = estimate_shifts(shifted_stack(truth))
    assert (got - torch.tensor(truth, dtype=torch.float64)).abs().max() < 0.1


def test_warp_translate_moves_content_and_marks_validity():
    img = torch.zeros((1, 1, 8, 8))
    img[0, 0, 2, 3] = 1
    out, valid = warp_translate(img, torch.tensor([[1.0, 2.0]]))
    assert out[0, 0, 3, 5] == 1 and out.sum() == 1
    assert not valid[0, 0, 0, 0] and valid[0, 0, 5, 5]
