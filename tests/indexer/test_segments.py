"""FAISS segments: each batch adds its own, tiered merges keep them few, tombstones hide removed
pictures, orphans of a crash are cleaned up, another index merges in; every path checked
against exact search (numpy) or a fresh index."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from lookalike.indexer import Index, IndexMismatchError, QueryError
from lookalike.indexer.catalog import SegmentRow
from lookalike.indexer.describing import describe_file
from lookalike.indexer.segments import FANOUT, FEW_QUERIES, Family, LoadedFamily, Segment, merge_plan
from lookalike.models.io.files import scan


def _records(photo_dir):
    files, _ = scan([photo_dir])
    return [o.record for o in (describe_file(f) for f in files) if o.record is not None]


def _hits(ix, q):
    return [(h.path, h.score, h.box, h.match) for h in ix.search(q, k=5)]


def _families(d):
    return sorted(p.name.split("-")[1] for p in d.glob("seg-*.faiss"))


def test_merge_plan_groups_fanout_segments_of_one_tier():
    rows = [SegmentRow(f"s{i}", "images", 10, "", "flat") for i in range(FANOUT + 3)]
    plan = merge_plan(rows)
    assert [len(g) for g in plan] == [FANOUT] and plan[0] == rows[:FANOUT]  # oldest first
    big = [SegmentRow("b", "images", 10**6, "", "flat")] + rows[:FANOUT - 1]
    assert merge_plan(big) == []  # seven small and one big: nothing to merge yet


def test_many_small_batches_give_the_same_answers_as_one(tmp_path, photo_dir):
    records = _records(photo_dir)
    many = []
    for k in range(3):  # 30 pictures, one batch each: merges happen along the way
        many += [dataclasses.replace(r, path=f"{r.path}.{k}") for r in records]
    with Index.open(tmp_path / "one", create=True) as one, Index.open(tmp_path / "many", create=True) as ix:
        one.add_records(many, batch=1000)
        assert _families(tmp_path / "one") == ["images", "regions"]
        ix.add_records(many, batch=1)
        segs = ix.catalog.segments()
        assert len(segs) < 2 * FANOUT  # 30 batches per family, merged by eights
        assert max(s.count for s in segs if s.family == "images") >= FANOUT
        assert ix.verify().ok
        for q in sorted(photo_dir.glob("s*.jpg")):
            assert _hits(ix, q) == _hits(one, q)


def test_removed_pictures_are_tombstoned_then_dropped_by_rebuild(tmp_path, photo_dir):
    with Index.open(tmp_path / "ix", create=True) as ix:
        ix.add([photo_dir], workers=1)
        q = photo_dir / "s1.jpg"
        assert any(h.path.endswith("s1_small.jpg") for h in ix.search(q, k=5))
        assert ix.forget([str(photo_dir / "s1_small.jpg")]) == 1
        assert ix.verify().ok
        assert not any(h.path.endswith("s1_small.jpg") for h in ix.search(q, k=5))
        vectors = ix._load_vectors()
        assert vectors["images"].ntotal == 9
        with pytest.raises(KeyError):
            vectors["images"].reconstruct(ix.catalog.conn.execute("SELECT image_id FROM tombstones").fetchone()[0])
        ix.rebuild()
        assert ix.catalog.conn.execute("SELECT count(*) FROM tombstones").fetchone()[0] == 0
        assert ix.verify().ok and not any(h.path.endswith("s1_small.jpg") for h in ix.search(q, k=5))


@pytest.mark.parametrize("n_queries", [7, FEW_QUERIES + 1])  # segments side by side; one after another
def test_loaded_family_equals_exact_search_with_tombstones(n_queries):
    rng = np.random.default_rng(3)
    fam = Family("regions", True, 64, True, 10**9)
    ids = (np.arange(1, 301, dtype=np.int64)[:, None] << 16 | np.arange(4)[None]).ravel()
    codes = rng.integers(0, 256, (len(ids), 8), dtype=np.uint8)
    parts = [Segment.build(fam, ids[i::3], codes[i::3]) for i in range(3)]
    dead = np.array([5, 17, 200], np.int64)
    loaded = LoadedFamily(fam, parts, dead)
    live = ~np.isin(ids >> 16, dead)
    assert loaded.ntotal == live.sum()
    q = rng.integers(0, 256, (n_queries, 8), dtype=np.uint8)
    d, i = loaded.search(q, 10)
    bits = np.unpackbits(q[:, None] ^ codes[None], axis=2).sum(2)  # exact Hamming, (7, N)
    for row in range(len(q)):
        want = np.sort(bits[row][live])[:10]
        assert d[row].tolist() == want.tolist()
        assert all(bits[row][ids == j][0] == dd and live[ids == j][0] for j, dd in zip(i[row], d[row]))
    assert np.array_equal(loaded.reconstruct(int(ids[4])), codes[4])
    assert np.array_equal(loaded.reconstruct(int(ids[-1])), codes[-1])


@pytest.mark.parametrize("approximate_above", [10**9, 100])  # flat segments; IVF ones probing every cell
def test_search_codes_hands_back_the_codes_found(approximate_above):
    rng = np.random.default_rng(4)
    fam = Family("regions", True, 128, True, approximate_above)
    ids = (np.arange(1, 401, dtype=np.int64)[:, None] << 16 | np.arange(3)[None]).ravel()
    codes = rng.integers(0, 256, (len(ids), 16), dtype=np.uint8)
    parts = [Segment.build(fam, ids[i::2], codes[i::2]) for i in range(2)]
    assert {type(p.index).__name__ for p in parts} == {"IndexBinaryFlat" if approximate_above > 1000 else "IndexBinaryIVF"}
    loaded = LoadedFamily(fam, parts, np.array([7], np.int64))
    q = rng.integers(0, 256, (5, 16), dtype=np.uint8)
    d, i = loaded.search(q, 12)
    d2, i2, found = loaded.search_codes(q, 12)
    assert np.array_equal(d, d2)  # (equal distances may come in another order)
    position = {int(v): n for n, v in enumerate(ids)}
    for row in range(len(q)):
        assert len(set(i2[row].tolist())) == 12 and not np.isin(i2[row] >> 16, [7]).any()
        for j, dd, c in zip(i2[row], d2[row], found[row]):
            assert np.array_equal(c, codes[position[int(j)]])
            assert np.unpackbits(q[row] ^ c).sum() == dd  # the distance is the one to the code handed back
    want = np.sort(np.unpackbits(q[:, None] ^ codes[None], axis=2).sum(2)[:, (ids >> 16) != 7], axis=1)[:, :12]
    assert np.array_equal(d, want)  # exact search (numpy)
    short = LoadedFamily(fam, parts[:1], np.zeros(0, np.int64)).search_codes(q, 10**4)
    assert (short[1] == -1).any() and not short[2][short[1] < 0].any()  # past the last: id -1, zero code
    with pytest.raises(TypeError):
        LoadedFamily(Family("images", False, 4, False, 10**9), [], np.zeros(0, np.int64)).search_codes(q, 1)


def test_orphans_of_a_crashed_batch_are_ignored_then_removed(tmp_path, photo_dir, monkeypatch):
    records = _records(photo_dir)
    d = tmp_path / "ix"
    with Index.open(d, create=True) as ix:
        ix.add_records(records[:4])
        before = set(p.name for p in d.glob("seg-*.faiss"))

        def crash(*a, **k):  # the process dies after the batch's files are written, before the commit
            raise KeyboardInterrupt

        monkeypatch.setattr(ix, "_merge_segments", lambda: None)
        monkeypatch.setattr(ix.catalog, "_insert_segments", crash)
        with pytest.raises(KeyboardInterrupt):
            ix.add_records(records[4:])
        monkeypatch.undo()
        assert len(set(p.name for p in d.glob("seg-*.faiss")) - before) == 2  # written, not recorded
        assert ix.info().images == 4 and ix.verify().ok
        ix.add_records(records[4:])
        assert ix.info().images == len(records) and ix.verify().ok
        recorded = {s.name for s in ix.catalog.segments()}
        assert {p.name for p in d.glob("seg-*.faiss")} == recorded  # the orphans are gone


def test_reader_follows_a_writer_and_its_merges(tmp_path, photo_dir):
    records = _records(photo_dir)
    d = tmp_path / "ix"
    with Index.open(d, create=True) as writer:
        writer.add_records(records[:2], batch=1)
        with Index.open(d) as reader:
            assert reader._load_vectors()["images"].ntotal == 2
            writer.add_records(records[2:], batch=1)  # FANOUT batches: a merge replaces the files
            assert reader._load_vectors()["images"].ntotal == len(records)
            assert reader.verify().ok
            q = photo_dir / "s3.jpg"
            assert _hits(reader, q) == _hits(writer, q)


def test_merge_another_index(tmp_path, photo_dir):
    files = sorted(photo_dir.glob("s*.jpg"))
    a, b, whole = tmp_path / "a", tmp_path / "b", tmp_path / "whole"
    with Index.open(a, create=True) as ia, Index.open(b, create=True) as ib, Index.open(whole, create=True) as iw:
        ia.add(files[:5], workers=1)
        ib.add(files[3:], workers=1)  # two pictures in both
        iw.add(files, workers=1)
        report = ia.merge(b)
        assert (report.added, report.updated) == (len(files) - 5, 2)
        assert ia.info().images == len(files) and ia.verify().ok
        for q in files:
            assert _hits(ia, q) == _hits(iw, q)
        with pytest.raises(QueryError, match="itself"):
            ia.merge(a)
    with Index.open(tmp_path / "kp", create=True) as ik:
        ik.add(files[:2], workers=1, keypoints=True)
        with pytest.raises(IndexMismatchError, match="keypoints"):
            ik.merge(b)
