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

    from lookalike.cli.pattern_files import PatternFileResult
    from lookalike.models import pattern_hits

    rng = np.random.default_rng(3)
    stack = rng.random((40, 9, 11)) < 0.5
    res = PatternFileResult('odd "name" é.npy', pattern_hits(stack, "10/11"))
    lines = list(res.json_lines())
    dicts = list(res.to_dicts())
    per_image = res.hits.per_image()
    assert len(lines) == len(dicts) == 40 and sum(map(bool, per_image)) > 5
    for i, (line, d, matches) in enumerate(zip(lines, dicts, per_image)):
        expected = {"input": 'odd "name" é.npy', "index": i, "found": bool(matches),
                    "matches": [{"x": m.x, "y": m.y, "variant": m.variant} for m in matches]}
        assert d == expected
        assert line == json.dumps(d, ensure_ascii=False) + "\n"


def test_diff_cli_json_and_errors(tmp_path):
    a = np.zeros((6, 8, 3), np.uint8)
    b = a.copy()
    b[1, 2] = (100, 0, 0)
    b[3, 4] = (3, 4, 0)  # distance 5
    Image.fromarray(a).save(tmp_path / "a.png")
    Image.fromarray(b).save(tmp_path / "b.png")
    r = _run("diff", tmp_path / "a.png", tmp_path / "b.png", "--out", tmp_path / "r.png", "--tolerance", "5",
             "--fill", "#ff00ff", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["changed"] == 1 and json.loads(r.stdout)["total"] == 48
    out = np.asarray(Image.open(tmp_path / "r.png"))
    assert tuple(out[1, 2]) == (255, 0, 255) and tuple(out[3, 4]) == (0, 0, 0)
    Image.fromarray(np.zeros((5, 8, 3), np.uint8)).save(tmp_path / "c.png")
    r = _run("diff", tmp_path / "a.png", tmp_path / "c.png", "--out", tmp_path / "r.png")
    assert r.exit_code == 2 and "differ in size" in r.output and "Traceback" not in r.output
    r = _run("diff", tmp_path / "a.png", tmp_path / "b.png", "--out", tmp_path / "r.png", "--fill", "nope")
    assert r.exit_code == 2 and "not a color" in r.output


def test_background_and_static_layer_cli(tmp_path):
    from tests.models.video_helpers import make_video

    rng = np.random.default_rng(0)
    bg = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    frames = np.repeat(bg[None], 9, axis=0).copy()
    for t in range(9):
        frames[t, 10:20, 5 * t:5 * t + 6] = 255
    for t, f in enumerate(frames):
        Image.fromarray(f).save(tmp_path / f"f{t}.png")
    paths = [tmp_path / f"f{t}.png" for t in range(9)]
    r = _run("background", *paths, "--out", tmp_path / "bg.png", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == {"frames": 9, "method": "median", "out": str(tmp_path / "bg.png")}
    assert np.array_equal(np.asarray(Image.open(tmp_path / "bg.png")), bg)
    r = _run("background", *paths, "--out", tmp_path / "bg.png", "--last", "3")
    assert r.exit_code == 0 and "median of 3 frames" in r.output
    make_video(tmp_path / "v.mkv", frames)
    r = _run("static-layer", tmp_path / "v.mkv", "--out", tmp_path / "layer.png", "--mask-out", tmp_path / "m.png",
             "--json")
    assert r.exit_code == 0, r.output
    obj = json.loads(r.stdout)
    assert obj["frames"] == 9 and obj["total"] == 48 * 64
    assert Image.open(tmp_path / "layer.png").mode == "RGBA" and Image.open(tmp_path / "m.png").mode == "L"
    (tmp_path / "bad.mp4").write_bytes(b"junk")
    r = _run("static-layer", tmp_path / "bad.mp4", "--out", tmp_path / "layer.png")
    assert r.exit_code == 1 and "cannot open" in r.output and "Traceback" not in r.output


def test_segment_cli_json_labels_and_overlay(tmp_path):
    img = np.zeros((10, 12, 3), np.uint8)
    img[2:5, 3:8] = (200, 10, 10)
    img[7, 0] = (9, 9, 9)
    Image.fromarray(img).save(tmp_path / "s.png")
    r = _run("segment", tmp_path / "s.png", "--json", "--labels-out", tmp_path / "l.npy", "--out", tmp_path / "o.png")
    assert r.exit_code == 0, r.output
    obj = json.loads(r.stdout)
    assert obj["count"] == 3
    assert obj["regions"][1] == {"label": 2, "area": 15, "box": [3, 2, 5, 3], "color": [200.0, 10.0, 10.0],
                                 "centroid": [5.0, 3.0]}
    labels = np.load(tmp_path / "l.npy")
    assert labels.dtype == np.int32 and labels.shape == (10, 12) and labels[7, 0] == 3
    assert Image.open(tmp_path / "o.png").size == (12, 10)
    r = _run("segment", tmp_path / "s.png", "--min-size", "2", "--json")
    assert json.loads(r.stdout)["count"] == 2
    r = _run("segment", tmp_path / "s.png", "--connectivity", "6")
    assert r.exit_code == 2 and "connectivity" in r.output
    r = _run("segment", tmp_path / "s.png", "--method", "chan-vese", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["count"] >= 2


def test_segment_cli_background_leaves_the_page_out(tmp_path):
    img = np.full((10, 12, 3), 255, np.uint8)
    img[2:5, 3:8] = (200, 10, 10)
    img[7, 0] = (9, 9, 9)
    Image.fromarray(img).save(tmp_path / "s.png")
    for color in ("white", "255,255,255", "#ffffff"):
        r = _run("segment", tmp_path / "s.png", "--background", color, "--json", "--labels-out", tmp_path / "l.npy")
        assert r.exit_code == 0, r.output
        obj = json.loads(r.stdout)
        assert obj["count"] == 2 and [g["area"] for g in obj["regions"]] == [15, 1]
        assert (np.load(tmp_path / "l.npy")[img.min(axis=2) == 255] == 0).all()
    r = _run("segment", tmp_path / "s.png", "--background", "no-such-color")
    assert r.exit_code != 0 and "not a color" in r.output and "Traceback" not in r.output
    r = _run("segment", tmp_path / "s.png", "--background", "white", "--method", "chan-vese")
    assert r.exit_code != 0 and "--background" in r.output and "Traceback" not in r.output
