"""label_regions against skimage/scipy/OpenCV (tolerance 0) and a flood fill (tolerance > 0)."""

from collections import deque

import cv2
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage
from skimage.measure import label as sk_label

from lookalike.models import LabelRegions, label_regions


def color_code(img: np.ndarray) -> np.ndarray:
    img = img.astype(np.int64)
    return img[..., 0] * 65536 + img[..., 1] * 256 + img[..., 2]


def flood_fill_labels(img: np.ndarray, tol: float, conn: int, background=None) -> np.ndarray:
    """The reference: breadth-first flood fill in raster order, joining neighbours within tol
    (pixels of the background color, when given, stay 0)."""
    h, w = img.shape[:2]
    px = img.astype(np.float64).reshape(h, w, -1)
    out = np.zeros((h, w), np.int32)
    done = np.zeros((h, w), bool) if background is None else (px == np.asarray(background, np.float64)).all(axis=2)
    steps = [(0, 1), (1, 0), (0, -1), (-1, 0)] + ([(1, 1), (1, -1), (-1, 1), (-1, -1)] if conn == 8 else [])
    n = 0
    for y0 in range(h):
        for x0 in range(w):
            if out[y0, x0] or done[y0, x0]:
                continue
            n += 1
            out[y0, x0] = n
            todo = deque([(y0, x0)])
            while todo:
                y, x = todo.popleft()
                for dy, dx in steps:
                    yy, xx = y + dy, x + dx
                    if 0 <= yy < h and 0 <= xx < w and not out[yy, xx] and not done[yy, xx] \
                            and np.sqrt(((px[y, x] - px[yy, xx]) ** 2).sum()) <= tol:
                        out[yy, xx] = n
                        todo.append((yy, xx))
    return out


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), h=st.integers(1, 24), w=st.integers(1, 24), colors=st.integers(1, 4),
       conn=st.sampled_from([4, 8]))
def test_tolerance_zero_equals_skimage_label(device, seed, h, w, colors, conn):
    img = np.random.default_rng(seed).integers(0, colors, (h, w, 3)).astype(np.uint8)
    ref = sk_label(color_code(img) + 1, background=0, connectivity=1 if conn == 4 else 2)
    seg = label_regions(img, 0, conn, device=device)
    assert np.array_equal(seg.labels.cpu().numpy(), ref)
    assert seg.count == ref.max()


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), h=st.integers(1, 14), w=st.integers(1, 14),
       tol=st.sampled_from([0.5, 1.0, 5.0, 12.0, 30.0]), conn=st.sampled_from([4, 8]))
def test_tolerance_chains_like_a_flood_fill(device, seed, h, w, tol, conn):
    rng = np.random.default_rng(seed)
    img = np.cumsum(rng.integers(-8, 9, (h, w, 3)), axis=1).clip(0, 255).astype(np.uint8)  # ramps: chains matter
    assert np.array_equal(label_regions(img, tol, conn, device=device).labels.cpu().numpy(), flood_fill_labels(img, tol, conn))
    bg = img[h // 2, w // 2]  # near colors join each other, never the background
    assert np.array_equal(label_regions(img, tol, conn, background=bg, device=device).labels.cpu().numpy(),
                          flood_fill_labels(img, tol, conn, background=bg))


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), h=st.integers(1, 12), w=st.integers(1, 12), conn=st.sampled_from([4, 8]))
def test_steps_of_one_tolerance_join_only_next_levels(seed, h, w, conn):
    """Gray levels 10 apart at tolerance 10: a pixel joins its own and the next levels only, so
    many pixels are linked by a diagonal alone (the joins pruned as redundant must really be)."""
    img = (np.random.default_rng(seed).integers(0, 4, (h, w)) * 10).astype(np.uint8)
    assert np.array_equal(label_regions(img, 10, conn).labels.numpy(), flood_fill_labels(img, 10, conn))


def test_a_diagonal_is_the_only_link():
    """(0, 1) ~ (1, 0) only by the diagonal: the other two-step paths join one end only."""
    img = np.array([[0, 20], [10, 0]], np.uint8)
    assert label_regions(img, 10, 8).count == 1 and label_regions(img, 10, 4).count == 2
    assert label_regions(img[:, ::-1].copy(), 10, 8).count == 1  # the same along the other diagonal


@settings(max_examples=120, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), h=st.integers(1, 24), w=st.integers(1, 24), colors=st.integers(1, 4),
       conn=st.sampled_from([4, 8]), min_size=st.sampled_from([0, 2, 3]))
def test_background_color_is_left_out_like_skimage(seed, h, w, colors, conn, min_size):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, colors, (h, w, 3)).astype(np.uint8)
    bg = [int(v) for v in img[rng.integers(h), rng.integers(w)]]
    code = color_code(img)
    ref = sk_label(code + 1, background=int(color_code(np.array(bg))) + 1, connectivity=1 if conn == 4 else 2)
    if min_size:  # skimage has no min_size: drop the small regions and renumber in order
        area = np.bincount(ref.ravel())
        keep = (area >= min_size) & (np.arange(len(area)) > 0)
        ref = (np.cumsum(keep) * keep)[ref]
    seg = label_regions(img, 0, conn, min_size=min_size, background=bg)
    labels = seg.labels.numpy()
    assert np.array_equal(labels, ref)
    assert seg.count == ref.max() and (labels[code == color_code(np.array(bg))] == 0).all()
    assert seg.stats.area.tolist() == np.bincount(labels.ravel(), minlength=seg.count + 1)[1:].tolist()


@pytest.mark.parametrize("conn", [4, 8])
def test_background_zero_gives_opencv_labels_and_stats(conn):
    img = (np.random.default_rng(conn).random((70, 90)) < 0.45).astype(np.uint8)
    seg = label_regions(img, 0, conn, background=0)
    n, cv_labels, cv_stats, cv_cent = cv2.connectedComponentsWithStats(img, connectivity=conn)
    labels = seg.labels.numpy()
    assert seg.count == n - 1 and np.array_equal(labels == 0, img == 0)
    # OpenCV numbers 8-connected regions in its own order: match them through their first pixel
    first = [np.argmax(labels.ravel() == i + 1) for i in range(seg.count)]
    j = cv_labels.ravel()[first]
    assert np.array_equal(seg.stats.area, cv_stats[j, 4]) and np.array_equal(seg.stats.box, cv_stats[j, :4])
    assert np.allclose(seg.stats.centroid, cv_cent[j]) and np.allclose(seg.stats.color, 1.0)


def test_background_that_the_image_cannot_hold_is_an_error():
    img = np.zeros((3, 3, 3), np.uint8)
    for bad in (300, -1, 0.5, float("nan"), [0, 0]):
        with pytest.raises(ValueError, match="background"):
            label_regions(img, background=bad)
    assert label_regions(img, background=(0, 0, 0)).count == 0
    assert label_regions(img, background=1).count == 1


def test_tolerance_on_float_images_uses_their_scale():
    img = np.array([[0.0, 0.1, 0.2, 0.9]], dtype=np.float32)
    assert label_regions(img, 0.1 + 1e-6).labels.tolist() == [[1, 1, 1, 2]]


@pytest.mark.parametrize("conn", [4, 8])
@pytest.mark.parametrize("seed", range(4))
def test_binary_partitions_and_stats_match_opencv_and_scipy(device, seed, conn):
    rng = np.random.default_rng(seed)
    img = (ndimage.gaussian_filter(rng.random((60, 80)), 1.5) > 0.5).astype(np.uint8)
    seg = label_regions(img, 0, conn, device=device)
    labels = seg.labels.cpu().numpy()
    n, cv_labels, cv_stats, cv_cent = cv2.connectedComponentsWithStats(img, connectivity=conn)
    sc_labels, _ = ndimage.label(img, structure=ndimage.generate_binary_structure(2, 1 if conn == 4 else 2))
    fg = img > 0
    for other in (cv_labels, sc_labels):
        pairs = set(zip(labels[fg].tolist(), other[fg].tolist()))
        assert len(pairs) == len(set(labels[fg].tolist())) == len(set(other[fg].tolist()))
    # the foreground regions' statistics agree with OpenCV's, region by region
    for i in range(seg.count):
        ys, xs = np.nonzero(labels == i + 1)
        j = cv_labels[ys[0], xs[0]]
        if img[ys[0], xs[0]] == 0:
            continue
        x, y, w, h, area = cv_stats[j]
        assert seg.stats.area[i] == area
        assert tuple(seg.stats.box[i]) == (x, y, w, h)
        assert np.allclose(seg.stats.centroid[i], cv_cent[j])
        assert np.allclose(seg.stats.color[i], [1.0])


def test_stats_of_a_color_image_by_hand():
    img = np.zeros((4, 5, 3), np.uint8)
    img[1:3, 1:4] = (200, 10, 30)
    img[3, 4] = (7, 7, 7)
    seg = label_regions(img, 0)
    assert seg.count == 3
    assert seg.stats.area.tolist() == [20 - 6 - 1, 6, 1]
    assert seg.stats.box.tolist()[1] == [1, 1, 3, 2]
    assert seg.stats.color.tolist()[1] == [200.0, 10.0, 30.0]
    assert seg.stats.centroid.tolist()[1] == [2.0, 1.5]
    noisy = img.astype(np.float32)
    noisy[1, 1] += (2, 0, 0)
    seg = label_regions(noisy, 3.0)
    assert seg.count == 3 and np.allclose(seg.stats.color[1], [200 + 2 / 6, 10, 30])


def test_a_long_snake_is_one_region():
    """The case capped max-pool propagation gets wrong: a spiral with a path of ~n²/2 pixels."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
    from segment import spiral

    img = spiral(201, 203)
    for conn in (4, 8):
        seg = label_regions(img, 0, conn)
        assert seg.count == 2, conn
        assert seg.stats.area.sum() == img.size


def test_min_size_zeroes_small_regions_and_renumbers():
    img = np.zeros((6, 6), np.uint8)
    img[0, 0] = 1  # 1 pixel
    img[3:5, 3:5] = 2  # 4 pixels
    seg = label_regions(img, 0, 4, min_size=2)
    labels = seg.labels.numpy()
    assert seg.count == 2 and labels[0, 0] == 0
    assert set(np.unique(labels)) == {0, 1, 2} and labels[3, 3] == 2 and labels[0, 1] == 1
    assert seg.stats.area.tolist() == [31, 4]


def test_inputs_layouts_and_module():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 2, (9, 7, 3)).astype(np.uint8)
    a = label_regions(img).labels
    b = label_regions(torch.from_numpy(img).permute(2, 0, 1)).labels
    assert torch.equal(a, b) and a.dtype == torch.int32 and a.shape == (9, 7)
    assert torch.equal(LabelRegions()(torch.from_numpy(img).permute(2, 0, 1)), a)
    assert label_regions(img[..., 0], device="cpu").labels.device.type == "cpu"


@pytest.mark.parametrize("kwargs, message", [
    ({"connectivity": 6}, "connectivity"), ({"tolerance": -1}, "tolerance"), ({"min_size": -2}, "min_size")])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        label_regions(np.zeros((3, 3), np.uint8), **kwargs)
    with pytest.raises(ValueError, match="non-empty"):
        label_regions(np.zeros((0, 3), np.uint8))


def test_read_only_arrays_need_no_copy_warning(recwarn):
    img = np.zeros((1, 1, 3), np.uint8)  # moved to (3, 1, 1) it is contiguous: torch would alias it
    img.setflags(write=False)
    gray = np.arange(20, dtype=np.uint8).reshape(4, 5)
    gray.setflags(write=False)
    assert label_regions(img).count == 1 and label_regions(gray).count == 20
    assert not [w for w in recwarn if "not writable" in str(w.message)]


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 400), density=st.sampled_from([0.3, 0.8, 1.0, 1.5, 3.0]),
       dtype=st.sampled_from([torch.int32, torch.int64]))
def test_union_find_roots_are_each_components_smallest_node(seed, n, density, dtype):
    """The hooking rounds on their own, on random graphs (many rounds, long chains, hooked roots
    hooked again), against scipy's connected components."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from lookalike.models.ops.components import _roots

    rng = np.random.default_rng(seed)
    m = int(density * n)
    a, b = rng.integers(0, n, (2, m))
    keep = a != b
    u, v = np.minimum(a, b)[keep], np.maximum(a, b)[keep]
    _, comp = connected_components(coo_matrix((np.ones(len(u)), (u, v)), shape=(n, n)), directed=False)
    smallest = np.full(comp.max() + 1, n)
    np.minimum.at(smallest, comp, np.arange(n))
    roots = _roots(n, torch.from_numpy(u).to(dtype), torch.from_numpy(v).to(dtype))
    assert roots.dtype == dtype and np.array_equal(roots.numpy(), smallest[comp])
