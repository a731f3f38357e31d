from __future__ import annotations

import json

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from lookalike.cli.app import app

runner = CliRunner()


def _run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_find_crop_json_and_apply(tmp_path, sample_copy):
    photos = sample_copy / "photos"
    crop = sample_copy / "queries" / "crop_of_scene14.jpg"
    out = tmp_path / "out"
    r = _run("find-crop", photos / "scene14.jpg", crop, "--json", "--top", "2",
             "--apply", photos / "scene01.jpg", "--apply", photos / "scene03.jpg", "--out-dir", out)
    assert r.exit_code == 0, r.output
    obj = json.loads(r.stdout)
    assert obj["matches"][0]["box"] == [120, 80, 300, 220] and obj["matches"][0]["score"] > 0.99
    assert len(obj["matches"]) == 2 and obj["matches"][1]["score"] < obj["matches"][0]["score"]
    cut = Image.open(out / "scene01.jpg")
    assert cut.size == (300, 220)
    src = np.asarray(Image.open(photos / "scene01.jpg"))[80:300, 120:420]
    assert np.abs(np.asarray(cut, np.int16) - src).mean() < 2  # JPEG re-encoded at quality 95


def test_find_crop_errors(tmp_path, sample_copy):
    photos = sample_copy / "photos"
    r = _run("find-crop", photos / "copies" / "scene03_small.jpg", photos / "scene03.jpg")
    assert r.exit_code == 2 and "larger than the image" in r.output and "Traceback" not in r.output
    r = _run("find-crop", photos / "scene03.jpg", photos / "broken" / "truncated.jpg")
    assert r.exit_code == 2 and "cannot read crop" in r.output
    r = _run("find-crop", photos / "scene03.jpg", photos / "scene03.jpg", "--scales", "2:1")
    assert r.exit_code == 2
    r = _run("find-crop", photos / "scene03.jpg", photos / "scene03.jpg", "--apply", photos / "scene01.jpg")
    assert r.exit_code == 2 and "--out-dir" in r.output


def test_pattern_cli_npy_and_images(tmp_path):
    stack = np.zeros((4, 28 * 28), np.uint8)
    img = stack[2].reshape(28, 28)
    img[10, 4:8] = 255
    img[11, 4] = 255  # "1111/1000" at x=4, y=10
    np.save(tmp_path / "s.npy", stack)
    Image.fromarray(np.rot90(img).copy()).save(tmp_path / "rot.png")
    r = _run("pattern", tmp_path / "s.npy", tmp_path / "rot.png", "--shape", "28x28", "--pattern", "1111/1000", "--json")
    assert r.exit_code == 0, r.output
    lines = [json.loads(l) for l in r.stdout.splitlines()]
    assert [(l["index"], l["found"]) for l in lines] == [(0, False), (1, False), (2, True), (3, False), (0, True)]
    assert lines[2]["matches"] == [{"x": 4, "y": 10, "variant": "rot0"}]
    assert lines[4]["matches"][0]["variant"] == "rot90"
    r = _run("pattern", tmp_path / "s.npy", "--pattern", "1111/1000", "--shape", "27x28")
    assert r.exit_code == 2 and "do not make" in r.output
    r = _run("pattern", tmp_path / "s.npy", "--pattern", "1x1")
    assert r.exit_code == 2 and "pattern cells" in r.output


def test_pattern_json_lines_are_what_json_dumps_writes():
    import json

    import numpy as np

    from lookalike.cli.pattern_cmd import json_lines
    from lookalike.models import pattern_hits

    rng = np.random.default_rng(3)
    stack = rng.random((40, 9, 11)) < 0.5
    hits = pattern_hits(stack, "10/11")
    lines = list(json_lines('odd "name" é.npy', hits))
    per_image = hits.per_image()
    assert len(lines) == 40 and sum(map(bool, per_image)) > 5
    for i, (line, matches) in enumerate(zip(lines, per_image)):
        expected = {"input": 'odd "name" é.npy', "index": i, "found": bool(matches),
                    "matches": [{"x": m.x, "y": m.y, "variant": m.variant} for m in matches]}
        assert line == json.dumps(expected, ensure_ascii=False) + "\n"
