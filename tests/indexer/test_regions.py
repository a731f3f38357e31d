import numpy as np
import pytest

from lookalike.indexer.regions import TILE_FRACTIONS, query_windows, tile_boxes


@pytest.mark.parametrize("w,h", [(481, 321), (321, 481), (512, 512), (1920, 1080), (64, 40)])
def test_tiles_cover_scales_and_stay_inside(w, h):
    boxes = tile_boxes(w, h)
    assert len(boxes)
    assert np.all(boxes[:, 0] >= 0) and np.all(boxes[:, 1] >= 0)
    assert np.all(boxes[:, 0] + boxes[:, 2] <= w) and np.all(boxes[:, 1] + boxes[:, 3] <= h)
    sides = set(boxes[:, 2].tolist())
    short = min(w, h)
    expected = {round(short * f) for f in TILE_FRACTIONS if round(short * f) >= 16}
    if w == h:
        expected.discard(short)
    assert sides == expected
    # tiles of each scale reach both edges
    for s in sides:
        b = boxes[boxes[:, 2] == s]
        assert b[:, 0].min() == 0 and (b[:, 0] + s).max() == w or s == w


def test_query_windows():
    assert query_windows(100, 110).tolist() == [[0, 0, 100, 110]]
    w = query_windows(300, 100)
    assert np.all(w[:, 2] == 100) and w[0, 0] == 0 and w[-1, 0] == 200
