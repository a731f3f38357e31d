"""Review plans: preselection, validation, apply and undo on a real index, crash safety."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from lookalike.indexer import Index
from lookalike.indexer.plan import (
    Plan, PlanError, PlanGroup, apply_plan, group_pictures, journal_path, preselect, undo_plan,
)
from lookalike.indexer.results import Picture


def _pic(i, path, size=1000, mtime=10, w=100, h=100):
    return Picture(i, path, size, mtime * 10**9, w, h)


def test_preselect_rules_keep_one_per_group():
    g = [_pic(1, "/a.jpg", size=500, mtime=30, w=200, h=100), _pic(2, "/b.jpg", size=900, mtime=20, w=100, h=100),
         _pic(3, "/c.png", size=100, mtime=10, w=150, h=100)]
    assert preselect([g], "largest-resolution").groups == [PlanGroup(["/a.jpg"], ["/b.jpg", "/c.png"])]
    assert preselect([g], "largest-file").groups == [PlanGroup(["/b.jpg"], ["/a.jpg", "/c.png"])]
    assert preselect([g], "oldest").groups == [PlanGroup(["/c.png"], ["/a.jpg", "/b.jpg"])]
    # ties go to the first path, whatever order the group comes in
    tie = [_pic(1, "/z.jpg"), _pic(2, "/y.jpg")]
    assert preselect([tie], "largest-file").groups[0].keep == ["/y.jpg"]
    assert preselect([tie[::-1]], "largest-file").groups[0].keep == ["/y.jpg"]
    with pytest.raises(PlanError) as e:
        preselect([g], "newest")
    assert e.value.code == "bad-rule"


def test_plan_refuses_to_lose_a_group_and_round_trips(tmp_path):
    with pytest.raises(PlanError, match="keep at least one"):
        Plan([PlanGroup([], ["/a.jpg", "/b.jpg"])])
    with pytest.raises(PlanError, match="twice"):
        Plan([PlanGroup(["/a.jpg"], ["/b.jpg"]), PlanGroup(["/c.jpg"], ["/b.jpg"])])
    with pytest.raises(PlanError, match="absolute"):
        Plan([PlanGroup(["a.jpg"], ["/b.jpg"])])
    plan = Plan([PlanGroup(["/a.jpg"], ["/b.jpg"])], index="/ix", rule="oldest")
    path = plan.save(tmp_path / "p.json")
    assert Plan.load(path) == plan
    (tmp_path / "bad.json").write_text('{"groups": []}')
    with pytest.raises(PlanError, match="not a lookalike plan"):
        Plan.load(tmp_path / "bad.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(PlanError, match="cannot read"):
        Plan.load(tmp_path / "bad.json")
    with pytest.raises(PlanError) as e:
        Plan.load(tmp_path / "none.json")
    assert e.value.code == "plan-not-found"


def _plan_for_dupes(ix, path, rule="largest-resolution"):
    report = ix.duplicates()
    plan = preselect(group_pictures(ix, report.groups), rule, index=str(ix.directory))
    return plan.save(path), plan


def test_apply_moves_trashed_files_out_of_the_index_and_undo_brings_them_back(photo_index, tmp_path):
    ix_dir, photos = photo_index
    small = str(photos / "s1_small.jpg")
    with Index.open(ix_dir) as ix:
        path, plan = _plan_for_dupes(ix, ix_dir / "plan.json")
        assert plan.groups == [PlanGroup([str(photos / "s1.jpg")], [small])]
        st = os.stat(small)
        before = ix.info().images

        dry = apply_plan(ix, path, dry_run=True)
        assert [m.source for m in dry.moved] == [small] and os.path.exists(small) and not journal_path(path).exists()

        report = apply_plan(ix, path, trash_dir=tmp_path / "bin")
        target = tmp_path / "bin" / "plan" / small.lstrip("/")
        assert [m.to_dict() for m in report.moved] == [{"from": small, "to": str(target)}]
        assert not os.path.exists(small) and target.is_file()
        assert ix.info().images == before - 1 and ix.pictures(paths=[small]) == []
        assert ix.verify().ok
        assert all(small not in g for g in ix.duplicates().groups)
        hits = ix.search(str(photos / "s1.jpg"), k=3)
        assert small not in [h.path for h in hits]

        again = apply_plan(ix, path, trash_dir=tmp_path / "bin")
        assert again.moved == [] and again.skipped == [(small, "not-indexed")]

        undone = undo_plan(ix, path)
        assert [m.source for m in undone.moved] == [small]
        assert os.path.exists(small) and not target.exists()
        assert (os.stat(small).st_size, os.stat(small).st_mtime_ns) == (st.st_size, st.st_mtime_ns)
        assert ix.info().images == before and ix.verify().ok
        assert ix.duplicates().groups == [[str(photos / "s1.jpg"), small]]
        assert undo_plan(ix, path).moved == []  # nothing left to put back


def test_apply_skips_changed_missing_and_unindexed_files(photo_index, tmp_path):
    ix_dir, photos = photo_index
    changed = photos / "s3.jpg"
    plan = Plan([PlanGroup([str(photos / "s0.jpg")], [str(changed), str(photos / "s4.jpg"), "/nowhere/x.jpg"])])
    path = plan.save(tmp_path / "p.json")
    os.utime(changed, ns=(1, 1))
    os.remove(photos / "s4.jpg")
    with Index.open(ix_dir) as ix:
        report = apply_plan(ix, path)
        assert report.moved == []
        assert sorted(report.skipped) == sorted([(str(changed), "changed"), (str(photos / "s4.jpg"), "missing"),
                                                 ("/nowhere/x.jpg", "not-indexed")])
        assert changed.exists() and ix.verify().ok


@pytest.mark.parametrize("crash_after_move", [False, True])
def test_a_crash_mid_apply_leaves_every_file_findable(photo_index, tmp_path, monkeypatch, crash_after_move):
    """The journal names a file before it moves: killed before or after the move, undo puts it back."""
    ix_dir, photos = photo_index
    small = str(photos / "s1_small.jpg")
    real_move = shutil.move

    def crashing_move(src, dst):
        if crash_after_move:
            real_move(src, dst)
        raise KeyboardInterrupt  # stands for SIGKILL: nothing after this line runs

    with Index.open(ix_dir) as ix:
        path, _ = _plan_for_dupes(ix, tmp_path / "plan.json")
        monkeypatch.setattr("lookalike.indexer.plan.shutil.move", crashing_move)
        with pytest.raises(KeyboardInterrupt):
            apply_plan(ix, path)
        monkeypatch.setattr("lookalike.indexer.plan.shutil.move", real_move)
        entry = json.loads(journal_path(path).read_text())["moves"][0]
        assert entry["from"] == small and entry["state"] == "moving"
        assert os.path.exists(small) != crash_after_move
        report = undo_plan(ix, path)
        assert os.path.exists(small) and not os.path.exists(entry["to"])
        assert [m.source for m in report.moved] == ([small] if crash_after_move else [])
        assert ix.verify().ok and ix.pictures(paths=[small])
