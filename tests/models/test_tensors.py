import numpy as np
import pytest
import torch

from lookalike.models.tensors import as_chw


def test_layouts_become_channels_first_with_values_and_dtype_kept(device):
    hwc = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    t = as_chw(hwc, device)
    assert t.shape == (4, 2, 3) and t.dtype == torch.uint8 and t.device.type == torch.device(device).type
    assert np.array_equal(t.cpu().numpy(), np.moveaxis(hwc, -1, 0))
    assert as_chw(hwc[..., 0]).shape == (1, 2, 3)
    stack = np.zeros((5, 2, 3, 4), np.float32)
    assert as_chw(stack).shape == (5, 4, 2, 3)
    tensor = torch.zeros((3, 2, 3))
    assert as_chw(tensor) is tensor and as_chw(tensor[0]).shape == (1, 2, 3)
    with pytest.raises(ValueError):
        as_chw(np.zeros(5))


def test_read_only_arrays_are_copied_and_others_shared(recwarn):
    a = np.zeros((4, 5), np.uint8)
    t = as_chw(a)
    a[0, 0] = 7
    assert int(t[0, 0, 0]) == 7  # shares memory: no copy for a contiguous writable array
    ro = np.zeros((4, 5, 3), np.uint8)
    ro.setflags(write=False)
    as_chw(ro)
    assert not [w for w in recwarn if "not writable" in str(w.message)]
