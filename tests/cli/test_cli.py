from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from lookalike.cli.app import app

runner = CliRunner()


def _run(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], env=env)


def test_index_search_dupes_info_verify_json(tmp_path, sample_copy):
    ix = tmp_path / "ix"
    r = _run("index", sample_copy / "photos", "--index", ix, "--json", "--regions")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert set(out) == {"added", "updated", "removed", "unchanged", "skipped"}
    assert out["added"] == 28 and len(out["skipped"]) == 2
    assert {s["reason"] for s in out["skipped"]} == {"truncated", "unsupported-format"}
    again = json.loads(_run("index", sample_copy / "photos", "--index", ix, "--json").stdout)
    assert (again["added"], again["unchanged"]) == (0, 28)
    assert again["skipped"] == out["skipped"]  # unchanged bad files are reported again, not re-read

    queries = sorted((sample_copy / "queries").iterdir())
    r = _run("search", *queries, "--index", ix, "--json", "-k", "3")
    assert r.exit_code == 0, r.output
    lines = [json.loads(l) for l in r.stdout.splitlines()]
    assert [l["query"] for l in lines] == [str(q) for q in queries]
    by_name = {os.path.basename(l["query"]): l["hits"] for l in lines}
    for hits in by_name.values():
        for h in hits:
            assert set(h) == {"path", "score", "match", "box"} and os.path.isabs(h["path"])
    top = by_name["crop_of_scene14.jpg"][0]
    assert top["path"].endswith("scene14.jpg") and top["match"] and top["box"] == [120, 80, 300, 220]
    assert by_name["scene20_saturated.jpg"][0]["match"]
    assert not any(h["match"] for h in by_name["scene20_rotated.jpg"])

    r = _run("dupes", "--index", ix, "--json", "--regions")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert set(d) == {"groups", "scores", "regions"} and len(d["groups"]) == 2
    assert len(d["scores"]) == 2 and all(0.9 <= s <= 1.0 for s in d["scores"])
    assert all(set(p) == {"a", "b", "score"} for p in d["regions"])
    assert any({os.path.basename(p["a"]["path"]), os.path.basename(p["b"]["path"])}
               == {"scene11_collage.jpg", "scene05.jpg"} for p in d["regions"])
    r = _run("dupes", "--index", ix, "--json", "--within")  # --within implies --regions
    assert r.exit_code == 0 and len(json.loads(r.stdout)["regions"]) >= len(d["regions"])
    collage = sample_copy / "photos" / "copies" / "scene11_collage.jpg"
    r = _run("search", collage, "--regions", "--index", ix, "--json", "-k", "5")
    assert r.exit_code == 0, r.output
    line = json.loads(r.stdout)
    assert set(line) == {"query", "hits", "regions"}
    assert any(g["path"].endswith("scene05.jpg") for g in line["regions"])
    assert all(set(g) == {"path", "query_box", "box", "score"} for g in line["regions"])
    r = _run("search", collage, "--index", ix, "--json")
    assert "regions" not in json.loads(r.stdout)  # only when asked for

    r = _run("info", "--index", ix, "--json")
    assert json.loads(r.stdout)["images"] == 28
    assert json.loads(r.stdout)["tile_code"] == "pca-v1 (128 bits)"
    assert "tiles coded pca-v1 (128 bits)" in _run("info", "--index", ix).stdout
    assert _run("verify", "--index", ix).exit_code == 0
    assert _run("rebuild", "--index", ix).exit_code == 0


def test_index_location_from_environment(tmp_path, photo_dir):
    env = {"LOOKALIKE_INDEX": str(tmp_path / "envix")}
    assert _run("index", photo_dir, "--json", env=env).exit_code == 0
    assert (tmp_path / "envix" / "catalog.sqlite").exists()
    r = _run("info", "--json", env=env)
    assert json.loads(r.stdout)["images"] == 10


@pytest.mark.parametrize(
    "args,code,text",
    [
        (["search", "q.jpg", "--index", "{tmp}/missing"], 1, "no index"),
        (["index", "{tmp}/nowhere", "--index", "{tmp}/ix"], 2, "no such file or folder"),
        (["search", "--index", "{tmp}/ix"], 2, "Missing argument"),
        (["search", "q.jpg", "--min-score", "3"], 2, "Invalid value"),
    ],
)
def test_user_mistakes_are_one_line_errors(tmp_path, args, code, text):
    r = _run(*[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert r.exit_code == code
    assert text in r.output
    assert "Traceback" not in r.output


def test_unreadable_query_reports_and_fails(tmp_path, photo_dir):
    ix = tmp_path / "ix"
    _run("index", photo_dir, "--index", ix)
    r = _run("search", photo_dir / "bad.jpg", photo_dir / "s1.jpg", "--index", ix, "--json")
    assert r.exit_code == 1
    lines = [json.loads(l) for l in r.stdout.splitlines()]
    assert "error" in lines[0] and lines[1]["hits"][0]["match"]


def test_verify_fails_on_damage(tmp_path, photo_dir):
    ix = tmp_path / "ix"
    _run("index", photo_dir, "--index", ix)
    next(ix.glob("seg-regions-*.faiss")).write_bytes(b"garbage")
    r = _run("verify", "--index", ix)
    assert r.exit_code == 1 and "checksum" in r.output


def test_merge_command(tmp_path, photo_dir):
    part, main = tmp_path / "part", tmp_path / "main"
    assert _run("index", photo_dir, "--index", part).exit_code == 0
    r = _run("merge", part, "--index", main, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == {"added": 10, "updated": 0, "removed": 0, "unchanged": 0, "skipped": []}
    assert json.loads(_run("verify", "--index", main, "--json").stdout)["ok"]
    r = _run("merge", tmp_path / "nowhere", "--index", main)
    assert r.exit_code != 0 and r.output.startswith("error:") and "Traceback" not in r.output
