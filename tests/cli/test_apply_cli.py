"""`lookalike dupes --plan` and `lookalike apply`: a plan from the command line, applied and undone."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from lookalike.cli.app import app

runner = CliRunner()


def _run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_plan_apply_undo_from_the_command_line(tmp_path, photo_dir):
    ix = tmp_path / "ix"
    assert _run("index", photo_dir, "--index", ix).exit_code == 0
    plan = tmp_path / "plan.json"
    r = _run("dupes", "--index", ix, "--plan", plan, "--keep", "largest-file", "--json")
    assert r.exit_code == 0, r.output
    saved = json.loads(plan.read_text())
    small, big = str(photo_dir / "s1_small.jpg"), str(photo_dir / "s1.jpg")
    assert saved["groups"] == [{"keep": [big], "trash": [small]}] and saved["index"] == str(ix.resolve())

    r = _run("apply", plan, "--dry-run", "--json")  # the index comes from the plan
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["dry_run"] and (photo_dir / "s1_small.jpg").exists()

    trash = tmp_path / "bin"
    r = _run("apply", plan, "--trash-dir", trash, "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["moved"] == [{"from": small, "to": str(trash / "plan" / small.lstrip("/"))}]
    assert not (photo_dir / "s1_small.jpg").exists()
    assert json.loads(_run("dupes", "--index", ix, "--json").stdout)["groups"] == []

    r = _run("apply", plan, "--trash-dir", trash)  # again: nothing left to move, and it says why
    assert r.exit_code == 1 and "not-indexed" in r.output

    r = _run("apply", plan, "--undo", "--json")
    assert r.exit_code == 0, r.output
    assert (photo_dir / "s1_small.jpg").exists()
    assert json.loads(_run("dupes", "--index", ix, "--json").stdout)["groups"] == [[big, small]]
    assert _run("verify", "--index", ix).exit_code == 0


def test_plan_mistakes_are_one_line_errors(tmp_path, photo_dir):
    ix = tmp_path / "ix"
    assert _run("index", photo_dir, "--index", ix).exit_code == 0
    r = _run("dupes", "--index", ix, "--plan", tmp_path / "p.json", "--keep", "newest")
    assert r.exit_code == 1 and r.output.strip() == "error: --keep newest: use largest-resolution, largest-file or oldest"
    r = _run("apply", tmp_path / "none.json", "--index", ix)
    assert r.exit_code == 1 and r.output.strip() == f"error: no plan file at {tmp_path / 'none.json'}"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"lookalike_plan": 1, "groups": [{"keep": [], "trash": [str(photo_dir / "s1.jpg")]}]}))
    r = _run("apply", bad, "--index", ix)
    assert r.exit_code == 1 and "keep at least one" in r.output and r.output.count("\n") == 1
