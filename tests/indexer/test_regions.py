import numpy as np
import pytest

from lookalike.indexer.regions import TILE_FRACTIONS, query_windows, tile_boxes, tile_boxes_at


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


@pytest.mark.parametrize("w,h", [(360, 240), (240, 360), (300, 300), (30, 20)])
def test_inner_windows_are_two_thirds_squares_covering_the_query(w, h):
    from lookalike.indexer.regions import inner_windows, search_windows

    inner = inner_windows(w, h)
    side = round(min(w, h) * 2 / 3)
    if side < 16:
        assert inner.shape == (0, 4)
        return
    assert np.all(inner[:, 2] == side) and np.all(inner[:, 3] == side)
    assert np.all(inner[:, :2] >= 0)
    assert np.all(inner[:, 0] + side <= w) and np.all(inner[:, 1] + side <= h)
    covered = np.zeros((h, w), bool)
    for x, y, s, _ in inner:
        covered[y:y + s, x:x + s] = True
    assert covered.all()
    # neighbours are at most a sixth of the side apart
    xs = np.unique(inner[:, 0])
    assert np.diff(xs).max(initial=0) <= side / 6 + 1
    both = search_windows(w, h)
    assert len(both) == len(query_windows(w, h)) + len(inner)


def test_tile_boxes_at_is_tile_boxes_indexed():
    rng = np.random.default_rng(4)
    for _ in range(300):
        w, h = (int(v) for v in rng.integers(10, 3000, 2))
        if rng.random() < 0.2:
            h = w  # square images leave their full-size tile out
        boxes = tile_boxes(w, h)
        numbers = rng.integers(0, len(boxes) + 5, 40)
        got = tile_boxes_at(w, h, numbers)
        want = np.array([boxes[n] if n < len(boxes) else [-1] * 4 for n in numbers]).reshape(-1, 4)
        assert np.array_equal(got, want), (w, h)
