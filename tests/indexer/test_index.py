from __future__ import annotations

import os
import time

import numpy as np
import pytest
from PIL import Image

from lookalike.indexer import (
    Index, IndexLockedError, IndexMismatchError, IndexNotFoundError, QueryError, SearchHit,
)
from lookalike.indexer.index import IMAGE_VECTORS, REGION_VECTORS
from lookalike.indexer.keymatch import REGION_MIN_NCC, box_iou
from lookalike.indexer.locking import WriteLock


def test_add_search_and_update_cycle(tmp_path, photo_dir):
    idx_dir = tmp_path / "ix"
    with Index.open(idx_dir, create=True) as ix:
        r = ix.add([photo_dir], workers=1)
        assert (r.added, r.updated, r.removed, r.unchanged) == (10, 0, 0, 0)
        assert [(os.path.basename(s.path), s.reason) for s in r.skipped] == [("bad.jpg", "unsupported-format")]
        info = ix.info()
        assert info.images == 10 and info.regions > 100

        hits = ix.search(photo_dir / "s1_small.jpg", k=3)
        assert isinstance(hits[0], SearchHit)
        names = [os.path.basename(h.path) for h in hits]
        assert names[0] == "s1_small.jpg" and names[1] == "s1.jpg"
        assert hits[0].match and hits[1].match
        assert hits[1].box == (0, 0, 240, 320)
        assert all(0 <= h.score <= 1 for h in hits)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        assert len({h.path for h in hits}) == len(hits)

        # the mirrored copy resembles s2 but is not a match
        hits = ix.search(photo_dir / "s2_mirror.jpg", k=3)
        s2 = [h for h in hits if os.path.basename(h.path) == "s2.jpg"]
        assert not s2 or not s2[0].match

        # unchanged re-run, then a change, an addition and a removal
        assert ix.add([photo_dir], workers=1).unchanged == 10
        time.sleep(0.01)
        Image.open(photo_dir / "s3.jpg").transpose(Image.Transpose.ROTATE_180).save(photo_dir / "s3.jpg")
        (photo_dir / "s4.jpg").unlink()
        Image.open(photo_dir / "s5.jpg").save(photo_dir / "new.png")
        r = ix.add([photo_dir], workers=1)
        assert (r.added, r.updated, r.removed, r.unchanged) == (1, 1, 1, 8)
        assert ix.info().images == 10
        assert ix.verify().ok


def test_crop_query_box_is_exact(tmp_path, photo_dir):
    crop = Image.open(photo_dir / "s6.jpg").crop((70, 40, 250, 200))
    q = tmp_path / "crop.png"
    crop.save(q)
    with Index.open(tmp_path / "ix", create=True) as ix:
        ix.add([photo_dir], workers=1)
        top = ix.search(q, k=2)[0]
    assert os.path.basename(top.path) == "s6.jpg"
    assert top.match and top.kind == "region"
    assert top.box == (70, 40, 180, 160)


def test_a_query_may_be_a_file_a_pil_image_or_pixels(tmp_path, photo_dir):
    crop = Image.open(photo_dir / "s6.jpg").crop((70, 40, 250, 200))
    crop.save(tmp_path / "crop.png")
    with Index.open(tmp_path / "ix", create=True) as ix:
        ix.add([photo_dir], workers=1)
        from_file = ix.search(tmp_path / "crop.png", k=3)
        assert ix.search(str(tmp_path / "crop.png"), k=3) == from_file
        assert ix.search(crop, k=3) == from_file
        assert ix.search(np.asarray(crop), k=3) == from_file
        assert ix.search(crop.convert("RGBA"), k=3) == from_file  # any PIL mode, converted as files are
        for bad in (np.zeros((5, 5), np.uint8), np.zeros((5, 5, 3), np.float32), 42):
            with pytest.raises(QueryError) as info:
                ix.search(bad)
            assert info.value.code == "bad-image" and info.value.exit_code == 2


def test_duplicates_groups_and_regions(tmp_path, sample_copy):
    with Index.open(tmp_path / "ix", create=True) as ix:
        ix.add([sample_copy / "photos"], workers=2)
        with pytest.raises(IndexMismatchError) as info:  # regions need keypoints, kept on request
            ix.duplicates(regions=True)
        assert info.value.code == "no-keypoints"
        report = ix.add([sample_copy / "photos"], workers=2, keypoints=True)
        assert report.updated == 28 and ix.keeps_keypoints and ix.info().keypoints  # described again, once
        assert ix.add([sample_copy / "photos"], workers=2).unchanged == 28
        rep = ix.duplicates(regions=True)
        assert ix.verify().ok
    groups = [sorted(os.path.basename(p) for p in g) for g in rep.groups]
    assert ["scene03.jpg", "scene03_small.jpg"] in groups
    assert ["scene07.jpg", "scene07_brighter.jpg"] in groups
    assert not any("scene09_mirrored.jpg" in g for g in groups)
    by_pair = {(os.path.basename(p.a.path), os.path.basename(p.b.path)): p for p in rep.regions}
    # the collage holds scene05's (100, 60, 300, 240) at (300, 150)
    pair = by_pair[("scene11_collage.jpg", "scene05.jpg")]
    assert box_iou(pair.a.box, (300, 150, 300, 240)) >= 0.5 and box_iou(pair.b.box, (100, 60, 300, 240)) >= 0.5
    for p in rep.regions:
        assert p.a.path != p.b.path and REGION_MIN_NCC <= p.score <= 1
        grouped = any(p.a.path in g and p.b.path in g for g in rep.groups)
        assert not grouped  # whole-image duplicates are groups, not region pairs


def test_missing_index_and_bad_arguments(tmp_path, photo_dir):
    with pytest.raises(IndexNotFoundError) as info:
        Index.open(tmp_path / "none")
    assert info.value.code == "index-not-found" and "--" not in str(info.value)
    with Index.open(tmp_path / "ix", create=True) as ix:
        with pytest.raises(QueryError):
            ix.add([tmp_path / "does-not-exist"])
        with pytest.raises(QueryError):
            ix.search(photo_dir / "bad.jpg")
        with pytest.raises(QueryError) as info:
            ix.search(photo_dir / "s1.jpg", min_score=2)
        assert info.value.code == "bad-min-score" and "--" not in str(info.value)
        assert ix.search(photo_dir / "s1.jpg") == []  # empty index


def test_second_writer_is_refused(tmp_path, photo_dir):
    with Index.open(tmp_path / "ix", create=True) as ix:
        with WriteLock(tmp_path / "ix"):
            with pytest.raises(IndexLockedError, match="locked"):
                ix.add([photo_dir], workers=1)


def test_faiss_files_are_verified_and_rebuilt(tmp_path, photo_dir):
    d = tmp_path / "ix"
    with Index.open(d, create=True) as ix:
        ix.add([photo_dir], workers=1)
        before = [(h.path, h.score) for h in ix.search(photo_dir / "s1.jpg", k=3)]
    images, = d.glob(f"seg-{IMAGE_VECTORS}-*.faiss")  # one batch, one segment a family
    regions, = d.glob(f"seg-{REGION_VECTORS}-*.faiss")
    data = bytearray(images.read_bytes())
    data[len(data) // 2] ^= 0xFF
    images.write_bytes(bytes(data))
    regions.unlink()
    with Index.open(d) as ix:
        rep = ix.verify()
        assert not rep.ok and len(rep.problems) == 2
        # searching still works: the damaged files are rebuilt from SQLite in memory
        assert [(h.path, h.score) for h in ix.search(photo_dir / "s1.jpg", k=3)] == before
        rebuilt = ix.rebuild()
        assert ix.verify().ok
        assert rebuilt.to_dict() == {"rebuilt": True, "images": ix.info().images,
                                     "regions": ix.info().searchable_regions}


def test_approximate_index_agrees_with_exact(tmp_path, sample_copy):
    exact_dir, approx_dir = tmp_path / "exact", tmp_path / "approx"
    with Index.open(exact_dir, create=True) as ix:
        ix.add([sample_copy / "photos"], workers=1)
    with Index.open(approx_dir, create=True, approximate_images=0, approximate_regions=0) as ix:
        ix.add([sample_copy / "photos"], workers=1)
        assert (ix.info().image_index, ix.info().region_index) == ("hnsw", "ivf")
    queries = sorted((sample_copy / "queries").iterdir()) + sorted((sample_copy / "photos").glob("scene1*.jpg"))
    with Index.open(exact_dir) as ex, Index.open(approx_dir, approximate_images=0, approximate_regions=0) as ap:
        for q in queries:
            a = [(h.path, h.match) for h in ex.search(q, k=3)]
            b = [(h.path, h.match) for h in ap.search(q, k=3)]
            assert a[0] == b[0], q
            assert [m for _, m in a] == [m for _, m in b], q


def test_low_information_images_do_not_match(tmp_path):
    d = tmp_path / "p"
    d.mkdir()
    Image.new("RGB", (200, 150), (90, 140, 200)).save(d / "blank1.png")
    Image.new("RGB", (200, 150), (92, 141, 199)).save(d / "blank2.png")
    with Index.open(tmp_path / "ix", create=True) as ix:
        ix.add([d], workers=1)
        assert ix.info().searchable_regions == 0
        hits = ix.search(d / "blank1.png")
        assert hits and not any(h.match for h in hits)
        assert ix.duplicates().groups == []


def test_region_boxes_on_draft_pixels_and_exact(tmp_path, make_scene):
    """Candidates are located on draft-decoded pixels: an unscaled crop's box is still exact
    (it is refined at full size), a rescaled crop's is within 3% of its size, and ``exact``
    refines it at full size too."""
    d = tmp_path / "big"
    d.mkdir()
    for i in range(4):
        make_scene(3100 + i, (1200, 900)).save(d / f"b{i}.jpg", quality=92)
    src = Image.open(d / "b2.jpg")
    unscaled = src.crop((310, 205, 310 + 360, 205 + 270))
    truth = (500, 380, 400, 300)
    rescaled = src.crop((500, 380, 900, 680)).resize((320, 240), Image.Resampling.LANCZOS)
    with Index.open(tmp_path / "ix", create=True) as ix:
        ix.add([d], workers=1)
        top = ix.search(unscaled, k=1)[0]
        assert top.path.endswith("b2.jpg") and top.match and top.kind == "region"
        assert top.box == (310, 205, 360, 270)
        for exact in (False, True):
            top = ix.search(rescaled, k=1, exact=exact)[0]
            assert top.path.endswith("b2.jpg") and top.match and top.kind == "region"
            # draft pixels: within the fine step's half (3% of the size); full size: 3 pixels
            assert max(abs(a - b) for a, b in zip(top.box, truth)) <= (3 if exact else 0.03 * 400), (exact, top.box)


def test_an_index_of_another_tile_scheme_is_refused(tmp_path, photo_dir):
    """An index made with the 256-bit SimHash tile hashes (or any other scheme) needs re-indexing."""
    import json

    from lookalike.indexer.regions import TILE_SCHEME

    with Index.open(tmp_path / "ix", create=True) as ix:
        ix.add([photo_dir], workers=1)
        old = {k: v for k, v in json.loads(TILE_SCHEME).items() if k != "code"} | {"hash_bits": 256}
        with ix.catalog.transaction():
            ix.catalog.set_meta("tile_scheme", json.dumps(old, sort_keys=True))
    with pytest.raises(IndexMismatchError) as err:
        Index.open(tmp_path / "ix")
    assert err.value.code == "reindex-needed" and "re-index needed" in str(err.value)


def _radial_gradient(w: int, h: int, cx: float, cy: float, colors, mid: float) -> Image.Image:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = np.hypot(xx - cx, yy - cy)
    t = (t - t.min()) / (t.max() - t.min())
    c0, c1, c2 = (np.array(c, np.float32) for c in colors)
    a = np.where(t[..., None] < mid, c0 + (c1 - c0) * (t / mid)[..., None],
                 c1 + (c2 - c1) * ((t - mid) / (1 - mid))[..., None])
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def test_a_turned_copy_is_not_a_region_of_its_source(tmp_path):
    """A radial gradient whose centre sits off the diagonal, transposed, looks like a large part
    of the original: the box alone passes the orientation check (no variant explains the box
    better), but the whole picture is the query transposed, so the region is no match."""
    d = tmp_path / "p"
    d.mkdir()
    params = [(575, 534, 94, 0, [(239, 100, 219), (141, 8, 195), (186, 216, 44)], 0.47),
              (405, 529, 24, 67, [(103, 7, 1), (31, 2, 171), (134, 165, 65)], 0.38),
              (547, 510, 107, 105, [(255, 243, 166), (215, 176, 180), (99, 224, 34)], 0.44),
              (602, 526, 37, 77, [(184, 227, 18), (239, 136, 91), (172, 146, 65)], 0.42)]
    for i, p in enumerate(params):
        _radial_gradient(*p).save(d / f"g{i}.png")
    with Index.open(tmp_path / "ix", create=True) as ix:
        ix.add([d], workers=1)
        for i in range(len(params)):
            im = Image.open(d / f"g{i}.png")
            im.transpose(Image.Transpose.TRANSPOSE).save(tmp_path / "turned.png")
            assert not [h for h in ix.search(tmp_path / "turned.png", k=3) if h.match], i
            # a part of it still is a region of it
            w, h = im.size
            im.crop((w // 4, h // 4, w * 3 // 4, h * 3 // 4)).save(tmp_path / "part.png")
            hits = ix.search(tmp_path / "part.png", k=3)
            assert hits[0].path.endswith(f"g{i}.png") and hits[0].match, i


def test_a_copy_with_a_tenth_of_each_side_cut_away_is_found(tmp_path):
    """Cut 5% from every side of a fine colored texture and its cells no longer line up with the
    source's as a whole (whole-image score about 0.8): it is located as a region instead."""
    from PIL import ImageFilter

    d = tmp_path / "p"
    d.mkdir()
    rng = np.random.default_rng(1)
    for i in range(3):
        a = rng.integers(0, 256, (62, 48, 3)).astype(np.uint8)
        im = Image.fromarray(a).resize((480, 620), Image.Resampling.BICUBIC).filter(ImageFilter.GaussianBlur(2))
        im.save(d / f"t{i}.png")
    with Index.open(tmp_path / "ix", create=True) as ix:
        ix.add([d], workers=1)
        for i in range(3):
            Image.open(d / f"t{i}.png").crop((24, 31, 456, 589)).save(tmp_path / "q.png")
            hit = ix.search(tmp_path / "q.png", k=3)[0]
            assert hit.path.endswith(f"t{i}.png") and hit.match, (i, hit)
            assert box_iou(hit.box, (24, 31, 432, 558)) > 0.9, hit.box
