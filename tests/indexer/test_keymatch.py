"""Duplicate regions from keypoints: the transform fit, candidate matches, the blob format, and
a pasted (rescaled, recompressed) patch found in a small index while a mirrored one is not."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from lookalike.indexer import Index
from lookalike.indexer.keymatch import (
    HASH_BYTES, KeypointSet, box_iou, candidate_matches, fit_transform, pack_keypoints, unpack_keypoints,
)
from tests.models.ops.test_keypoints import texture


def test_fit_transform_finds_scale_and_shift_among_outliers():
    rng = np.random.default_rng(0)
    xa = rng.uniform(0, 200, (12, 2))
    sa = rng.uniform(2, 6, 12)
    xb, sb = xa * 1.7 + [30, -10], sa * 1.7
    outliers_b = rng.uniform(0, 400, (10, 2))
    tf = fit_transform(np.r_[xa, rng.uniform(0, 200, (10, 2))], np.r_[sa, rng.uniform(2, 6, 10)],
                       np.r_[xb, outliers_b], np.r_[sb, rng.uniform(2, 10, 10)])
    assert tf is not None and sorted(tf.inliers.tolist()) == list(range(12))
    assert tf.scale == pytest.approx(1.7, abs=1e-6) and (tf.tx, tf.ty) == pytest.approx((30, -10), abs=1e-4)
    # a mirror cannot be fitted: x flips, so no positive scale with a shift agrees
    assert fit_transform(xa, sa, np.stack([300 - xa[:, 0], xa[:, 1]], 1), sa) is None
    assert fit_transform(xa[:2], sa[:2], xb[:2], sb[:2]) is None  # too few


def test_fit_transform_with_many_matches_lets_some_propose_and_counts_every_one():
    """A pair of textured pictures: 600 matches, 60 of them one transform; more matches than
    MAX_PROPOSALS, so only some propose, and the fit still finds the transform and all 60 inliers."""
    from lookalike.indexer import keymatch

    rng = np.random.default_rng(7)
    m = 600
    assert m > keymatch.MAX_PROPOSALS
    xa = rng.uniform(0, 400, (m, 2))
    sa = rng.uniform(2, 6, m)
    xb = rng.uniform(0, 400, (m, 2))
    sb = sa * np.exp(rng.uniform(-0.3, 0.3, m))
    true = rng.choice(m, 60, replace=False)
    xb[true], sb[true] = xa[true] * 0.8 + [40, 12], sa[true] * 0.8
    tf = fit_transform(xa, sa, xb, sb)
    assert tf is not None and set(true.tolist()) <= set(tf.inliers.tolist())
    assert tf.scale == pytest.approx(0.8, abs=0.01) and (tf.tx, tf.ty) == pytest.approx((40, 12), abs=1.0)


def test_pack_unpack_round_trip():
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 5000, (7, 2)).astype(np.float32)
    sc = rng.uniform(1, 40, 7).astype(np.float32)
    h = rng.integers(0, 256, (7, HASH_BYTES), dtype=np.uint8)
    xy2, sc2, h2 = unpack_keypoints(pack_keypoints(xy, sc, h))
    np.testing.assert_allclose(xy2, np.rint(xy), atol=0)
    np.testing.assert_allclose(sc2, sc, rtol=1e-3)
    np.testing.assert_array_equal(h2, h)
    assert [len(a) for a in unpack_keypoints(b"")] == [0, 0, 0]


def test_candidates_pair_close_hashes_across_pictures_only():
    rng = np.random.default_rng(2)
    base = rng.integers(0, 256, (50, HASH_BYTES), dtype=np.uint8)
    noisy = base.copy()
    noisy[:, 0] ^= 1  # one bit apart
    hashes = np.r_[base, noisy, rng.integers(0, 256, (50, HASH_BYTES), dtype=np.uint8)]
    owner = np.r_[np.zeros(50), np.ones(50), np.full(50, 2)].astype(np.int64)
    xy = rng.uniform(0, 100, (150, 2)).astype(np.float32)
    kp = KeypointSet(owner, xy, np.full(150, 2.0, np.float32), hashes)
    i, j = candidate_matches(kp)
    got = set(zip(i.tolist(), j.tolist()))
    assert {(k, k + 50) for k in range(50)} <= got  # every near-copy found (i < j)
    assert all(owner[a] != owner[b] or np.hypot(*(xy[a] - xy[b])) >= 8 for a, b in got)
    assert sum(owner[a] == 2 or owner[b] == 2 for a, b in got) <= 2  # random hashes rarely collide


def _jpeg(px, path, q):
    Image.fromarray(px).save(path, "JPEG", quality=q)


def test_a_pasted_patch_is_found_at_its_scale_and_a_mirrored_one_is_not(tmp_path):
    d = tmp_path / "pics"
    d.mkdir()
    src = texture(10, 300, 400)
    patch = src[60:180, 100:260]  # 160 x 120
    big = np.asarray(Image.fromarray(patch).resize((224, 168), Image.Resampling.BICUBIC))  # 1.4x
    host = texture(11, 320, 420)
    host[100:268, 150:374] = big
    mirrored = texture(12, 320, 420)
    mirrored[40:160, 20:180] = patch[:, ::-1]
    _jpeg(src, d / "source.jpg", 95)
    _jpeg(host, d / "host.jpg", 90)
    _jpeg(mirrored, d / "mirrored.jpg", 90)
    _jpeg(texture(13, 300, 300), d / "other.jpg", 90)
    with Index.open(tmp_path / "ix", create=True) as ix:
        ix.add([d], keypoints=True, workers=1)
        pairs = ix.duplicates(regions=True).regions
        # the reverse of a crop query: the host finds its source, with the box in both
        shared = ix.search_regions(d / "host.jpg")
        assert [os.path.basename(h.path) for h in shared] == ["host.jpg", "source.jpg"]  # itself, then the source
        assert shared[1].to_dict().keys() == {"path", "query_box", "box", "score"}
        assert [os.path.basename(h.path) for h in ix.search_regions(d / "mirrored.jpg")] == ["mirrored.jpg"]
    names = {(os.path.basename(p.a.path), os.path.basename(p.b.path)): p for p in pairs}
    assert set(names) == {("host.jpg", "source.jpg")}, names
    p = names[("host.jpg", "source.jpg")]

    assert box_iou(p.a.box, (150, 100, 224, 168)) >= 0.7 and box_iou(p.b.box, (100, 60, 160, 120)) >= 0.7
    assert p.score >= 0.6
    assert box_iou(shared[1].query_box, (150, 100, 224, 168)) >= 0.7
    assert box_iou(shared[1].box, (100, 60, 160, 120)) >= 0.7


def _loaded(px):
    from lookalike.models.io.images import LoadedImage

    return LoadedImage(px, px.shape[1], px.shape[0])


def _pasted(scale: float, seed: int = 20):
    """A source texture and a host with its patch (x 100-260, y 60-180) pasted at ``scale``,
    JPEG q85 on both sides; returns (source, host, source box, host box)."""
    src = texture(seed, 300, 400)
    patch = Image.fromarray(src[60:180, 100:260])
    pw, ph = round(160 * scale), round(120 * scale)
    host = texture(seed + 1, 360, 460)
    host[50:50 + ph, 70:70 + pw] = np.asarray(patch.resize((pw, ph), Image.Resampling.BICUBIC))

    def q85(px):
        import io
        buf = io.BytesIO()
        Image.fromarray(px).save(buf, "JPEG", quality=85)
        return np.asarray(Image.open(buf).convert("RGB"))
    return q85(src), q85(host), (100, 60, 160, 120), (70, 50, pw, ph)


@pytest.mark.parametrize("scale", [0.6, 1.0, 1.7])
def test_refine_region_gives_the_whole_patch_from_inliers_in_one_corner(scale):
    """The inliers sit in the patch's top-left eighth; the area is grown until it is the whole
    patch (resampled texture agrees by its local correlation), on both sides."""
    from lookalike.indexer.keymatch import Transform, refine_region

    src, host, sbox, hbox = _pasted(scale)
    tf = Transform(scale, 70 - 100 * scale, 50 - 60 * scale, np.arange(4))
    xa = np.array([[105.0, 65.0], [130.0, 70.0], [112.0, 90.0], [135.0, 85.0]])
    found = refine_region(_loaded(src), _loaded(host), tf, xa, np.full(4, 2.0))
    assert found is not None
    box_a, box_b, score = found
    assert box_iou(box_a, sbox) >= 0.8 and box_iou(box_b, hbox) >= 0.8, (box_a, box_b)
    assert score >= 0.6


def test_refine_region_refuses_a_place_that_is_not_one():
    """A straight edge between two flat colors, or a stripe pattern, agrees with itself shifted
    along it: no duplicate region, whatever the transform; the same geometry on texture is one."""
    from lookalike.indexer.keymatch import Transform, refine_region

    yy, xx = np.mgrid[0:300, 0:400]
    edge = np.where((xx - 0.5 * yy) > 150, 200, 40).astype(np.uint8)[..., None].repeat(3, 2)
    edge = (edge + texture(30, 300, 400) // 32).astype(np.uint8)  # faint noise, no structure
    stripes = np.where((xx // 12) % 2 == 0, 220, 30).astype(np.uint8)[..., None].repeat(3, 2)
    xa = np.array([[150.0, 100.0], [200.0, 110.0], [170.0, 160.0], [210.0, 150.0]])
    shift_along = Transform(1.0, 20.0, 40.0, np.arange(4))  # (20, 40) follows the edge's direction
    assert refine_region(_loaded(edge), _loaded(edge), shift_along, xa, np.full(4, 3.0)) is None
    one_period = Transform(1.0, 24.0, 0.0, np.arange(4))
    assert refine_region(_loaded(stripes), _loaded(stripes), one_period, xa, np.full(4, 3.0)) is None
    tex = texture(31, 300, 400)
    moved = np.roll(tex, (40, 20), (0, 1))
    assert refine_region(_loaded(tex), _loaded(moved), shift_along, xa, np.full(4, 3.0)) is not None


def test_a_copy_move_box_does_not_take_in_surroundings_of_like_texture():
    """A patch moved within one picture whose ground is a fine grain of the same strength
    everywhere (different grain around the two copies): the grain around them differs little on
    average but does not correlate, so the boxes stay the patch's own."""
    import io

    from lookalike.indexer.keymatch import Transform, refine_region

    rng = np.random.default_rng(3)
    grain = np.asarray(Image.fromarray(rng.integers(0, 256, (150, 200, 3), dtype=np.uint8)).resize(
        (400, 300), Image.Resampling.BILINEAR), np.float64) - 128
    pic = np.clip(128 + 0.15 * grain, 0, 255)
    patch = texture(42, 100, 120)
    pic[40:140, 40:160] = patch
    pic[170:270, 240:360] = patch
    buf = io.BytesIO()
    Image.fromarray(pic.astype(np.uint8)).save(buf, "JPEG", quality=85)
    pic = np.asarray(Image.open(buf).convert("RGB"))
    xa = np.array([[60.0, 60.0], [90.0, 70.0], [70.0, 100.0], [120.0, 110.0]])
    found = refine_region(_loaded(pic), _loaded(pic), Transform(1.0, 200.0, 130.0, np.arange(4)), xa, np.full(4, 2.0))
    assert found is not None
    box_a, box_b, _ = found
    assert box_iou(box_a, (40, 40, 120, 100)) >= 0.65 and box_iou(box_b, (240, 170, 120, 100)) >= 0.65, (box_a, box_b)


def test_could_fit_is_the_first_test_of_fit_transform_for_every_group_at_once():
    """Batched over groups of every size (and the larger ones passed on): never drops a group
    fit_transform accepts, and drops every group whose matches agree on no transform at all."""
    from lookalike.indexer import keymatch
    from lookalike.indexer.keymatch import could_fit

    rng = np.random.default_rng(6)
    xa_all, sa_all, xb_all, sb_all, sizes, accepted, none_agree = [], [], [], [], [], [], []
    for g in range(400):
        m = int(rng.integers(0, keymatch.BATCH_MATCHES + 6))
        xa = rng.uniform(0, 300, (m, 2)).astype(np.float32)
        sa = rng.uniform(1, 8, m).astype(np.float32)
        k = rng.choice([0.5, 1.0, 1.7])
        agreeing = rng.random(m) < rng.choice([0.1, 0.5])
        sb = np.where(agreeing, sa * k, sa * np.exp(rng.uniform(-1, 1, m))).astype(np.float32)
        xb = np.where(agreeing[:, None], xa * k + [20, 5], rng.uniform(0, 300, (m, 2))).astype(np.float32)
        for lst, v in ((xa_all, xa), (sa_all, sa), (xb_all, xb), (sb_all, sb)):
            lst.append(v)
        sizes.append(m)
        accepted.append(fit_transform(xa, sa, xb, sb) is not None)
        none_agree.append(m < 3 or keymatch._agreement(xa, sa, xb, sb).sum(1).max() < 3)
    ends = np.cumsum(sizes)
    could = could_fit(ends - np.array(sizes), ends, *(np.concatenate(v) for v in (xa_all, sa_all, xb_all, sb_all)))
    assert could.shape == (400,)
    assert all(could[g] for g in range(400) if accepted[g])
    assert all(not could[g] for g in range(400) if none_agree[g] and sizes[g] <= keymatch.BATCH_MATCHES)
    assert all(could[g] for g in range(400) if sizes[g] > keymatch.BATCH_MATCHES)
    assert 0 < sum(accepted) and sum(none_agree) > 50  # both kinds occur


def test_scales_could_agree_never_drops_a_pair_fit_transform_accepts():
    from lookalike.indexer.keymatch import scales_could_agree

    rng = np.random.default_rng(5)
    groups, sa_all, sb_all, accepted = [], [], [], []
    for g in range(300):
        m = int(rng.integers(3, 9))
        xa = rng.uniform(0, 300, (m, 2))
        sa = rng.uniform(1, 8, m)
        k = rng.choice([0.5, 1.0, 1.7])
        agreeing = rng.random(m) < 0.5  # some matches follow one transform, the rest are noise
        sb = np.where(agreeing, sa * k, sa * np.exp(rng.uniform(-2, 2, m)))
        xb = np.where(agreeing[:, None], xa * k + [20, 5], rng.uniform(0, 300, (m, 2)))
        groups.append(np.full(m, g))
        sa_all.append(sa)
        sb_all.append(sb)
        accepted.append(fit_transform(xa, sa, xb, sb) is not None)
    could = scales_could_agree(np.concatenate(groups), np.concatenate(sa_all), np.concatenate(sb_all))
    assert could.shape == (300,)
    assert all(could[g] for g in range(300) if accepted[g])
    assert 0 < sum(accepted) and not could.all()  # both kinds occur: the cut is not trivially all or nothing
    assert scales_could_agree(np.array([0, 0, 0]), np.ones(3), np.array([1.0, 2.0, 4.0])).tolist() == [False]
    assert scales_could_agree(np.zeros(0, np.int64), np.zeros(0), np.zeros(0)).tolist() == []
