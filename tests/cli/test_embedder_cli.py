"""`lookalike index --embedder`, `search` on such an index, `train`."""

from __future__ import annotations

import json
import urllib.error

import torch
from typer.testing import CliRunner

from lookalike.cli.app import app
from lookalike.models.embed.lookalike_s import LookalikeSNet, save_checkpoint

runner = CliRunner()
SMALL = {"widths": [8, 16, 16], "strides": [2, 2, 1], "dim": 32, "input_side": 48}


def _run(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], env=env)


def test_index_and_search_with_an_embedder(tmp_path, photo_dir):
    w = tmp_path / "w.pt"
    torch.manual_seed(0)
    save_checkpoint(LookalikeSNet(**SMALL), w, {})
    ix = tmp_path / "ix"
    r = _run("index", photo_dir, "--index", ix, "--embedder", "lookalike-s", "--weights", w, "--device", "cpu",
             "--json", "--workers", "1")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["added"] == 10
    info = json.loads(_run("info", "--index", ix, "--json").stdout)
    assert info["embedder"] == "lookalike-s" and info["embedder_dim"] == 32
    r = _run("search", photo_dir / "s1.jpg", "--index", ix, "--json", "-k", "2")
    assert r.exit_code == 0, r.output
    top = json.loads(r.stdout)["hits"][0]
    assert top["path"].endswith("s1.jpg") and top["match"]
    r = _run("index", photo_dir, "--index", ix, "--embedder", "resnet50")
    assert r.exit_code == 1
    assert r.output.strip().startswith("error:") and "re-index" in r.output and len(r.output.strip().splitlines()) == 1


def test_missing_weights_are_one_line_errors(tmp_path, photo_dir, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("offline")

    import torchvision.models._api as tv_api

    monkeypatch.setattr(tv_api, "load_state_dict_from_url", offline)
    r = _run("index", photo_dir, "--index", tmp_path / "a", "--embedder", "resnet50")
    assert r.exit_code == 1 and "--weights FILE" in r.output and len(r.output.strip().splitlines()) == 1
    r = _run("index", photo_dir, "--index", tmp_path / "b", "--embedder", "lookalike-s", "--weights", tmp_path / "no.pt")
    assert r.exit_code == 1 and "not found" in r.output
    r = _run("index", photo_dir, "--index", tmp_path / "c", "--embedder", "vgg")
    assert r.exit_code == 1 and "unknown embedder" in r.output


def test_train_command(tmp_path, make_scene):
    d = tmp_path / "p"
    d.mkdir()
    for i in range(3):
        make_scene(40 + i, (80, 60)).save(d / f"{i}.png")
    out = tmp_path / "m.pt"
    r = _run("train", d, "--out", out, "--steps", "2", "--batch", "3", "--device", "cpu", "--json",
             "--held-out", "photo 2", "--gray-share", "0.5")
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert rep["images"] == 3 and rep["steps"] == 2 and out.exists()
    meta = torch.load(out, weights_only=True)["meta"]
    assert meta["command"].startswith("lookalike train") and meta["data"]["held_out"] == "photo 2"
    assert meta["config"]["gray_share"] == 0.5
    r = _run("train", d, "--out", out, "--gray-share", "2")
    assert r.exit_code == 2 and "Traceback" not in r.output
    r = _run("train", tmp_path / "missing", "--out", out)
    assert r.exit_code == 2 and "no such file" in r.output
    r = _run("train", d, "--out", tmp_path / "nodir" / "m.pt")
    assert r.exit_code == 2 and "does not exist" in r.output and "Traceback" not in r.output
