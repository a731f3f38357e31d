"""The review page's JSON API: the CLI's JSON, safety rules, errors that keep the server up."""

from __future__ import annotations

import io
import json
import os

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from lookalike.cli.app import app as cli_app
from lookalike.cli.web import create_app

LOCAL = "http://127.0.0.1"  # the server answers only requests addressed to this machine


def _cli_json(*args):
    r = CliRunner().invoke(cli_app, [str(a) for a in args])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


@pytest.fixture()
def client(photo_index):
    with TestClient(create_app(photo_index[0], token="t0k"), base_url=LOCAL) as c:
        yield c


def _crop_png(path, box):
    buf = io.BytesIO()
    Image.open(path).crop(box).save(buf, "PNG")
    return buf.getvalue()


def test_bodies_are_the_cli_json(client, photo_index):
    ix_dir, photos = photo_index
    assert client.get("/api/info").json() == _cli_json("info", "--index", ix_dir, "--json")
    assert client.get("/api/dupes?regions=1").json() == _cli_json("dupes", "--regions", "--index", ix_dir, "--json")
    assert client.get("/api/dupes").json() == _cli_json("dupes", "--index", ix_dir, "--json")
    q = str(photos / "s5.jpg")
    got = client.post("/api/search?k=4", json={"path": q}).json()
    assert got == _cli_json("search", q, "-k", "4", "--index", ix_dir, "--json")
    with_regions = client.post("/api/search?k=4&regions=1", json={"path": q}).json()
    assert with_regions == _cli_json("search", q, "-k", "4", "--regions", "--index", ix_dir, "--json")
    assert with_regions["regions"][0]["path"] == q  # the picture shares all of itself
    assert got["hits"][0]["path"] == q and got["hits"][0]["match"]


def test_upload_a_crop_finds_its_source_with_the_box(client, photo_index):
    _, photos = photo_index
    src = photos / "s3.jpg"
    r = client.post("/api/search", files={"file": ("crop.png", _crop_png(src, (60, 40, 220, 160)), "image/png")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["query"] == "crop.png"
    top = body["hits"][0]
    assert top["path"] == str(src) and top["match"]
    x, y, w, h = top["box"]
    assert abs(x - 60) <= 8 and abs(y - 40) <= 8 and abs(w - 160) <= 12 and abs(h - 120) <= 12


def test_pictures_and_thumbnails_only_of_the_index(client, photo_index):
    _, photos = photo_index
    pics = client.post("/api/pictures", json={"paths": [str(photos / "s0.jpg"), "/etc/passwd"]}).json()["pictures"]
    assert [p["path"] for p in pics] == [str(photos / "s0.jpg")]
    assert set(pics[0]) == {"id", "path", "size", "mtime", "width", "height", "format"}
    assert pics[0]["format"] == "JPEG" and (pics[0]["width"], pics[0]["height"]) == (320, 240)
    r = client.get(f"/api/thumb/{pics[0]['id']}")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(r.content)).size == (320, 240)
    assert Image.open(io.BytesIO(client.get(f"/api/thumb/{pics[0]['id']}?side=1600").content)).size == (320, 240)
    for bad in ["/api/thumb/999999", "/api/thumb/-1", "/api/thumb/..%2F..%2Fetc%2Fpasswd", "/api/thumb/1?side=5000",
                "/static/..%2F..%2Fapp.py", "/static/../app.py", "/api/thumb/%2Fetc%2Fpasswd"]:
        assert client.get(bad).status_code == 404, bad
    # a picture whose file was swapped for a link to another file (or changed) is not served
    victim = photos / "s0.jpg"
    victim.unlink()
    victim.symlink_to(photos / "s5.jpg")
    assert client.get(f"/api/thumb/{pics[0]['id']}").status_code == 404
    victim.unlink()
    assert client.get(f"/api/thumb/{pics[0]['id']}").status_code == 404
    r = client.post("/api/search", json={"path": "/etc/passwd"})
    assert r.status_code == 404 and "not a picture of this index" in r.json()["error"]


def test_bad_uploads_are_one_line_errors_and_the_server_keeps_serving(photo_index):
    with TestClient(create_app(photo_index[0], token="t", max_upload=200_000), base_url=LOCAL) as c:
        r = c.post("/api/search", files={"file": ("notes.txt", b"hello, not an image", "text/plain")})
        assert r.status_code == 400 and set(r.json()) == {"error", "code"}
        assert r.json()["error"].startswith("cannot read query notes.txt: unsupported-format")
        r = c.post("/api/search", files={"file": ("big.bin", os.urandom(300_000), "image/jpeg")})
        assert r.status_code == 413 and "larger than 195.312 KiB" in r.json()["error"]
        assert c.get("/api/info").status_code == 200
    with TestClient(create_app(photo_index[0], token="t"), base_url=LOCAL) as c:
        buf = io.BytesIO()
        Image.new("RGB", (11000, 10000)).save(buf, "PNG")  # 110 megapixels: over the indexing limit
        r = c.post("/api/search", files={"file": ("bomb.png", buf.getvalue(), "image/png")})
        assert r.status_code == 413 and "too-large" in r.json()["error"]
        r = c.post("/api/search", content=b"{", headers={"content-type": "application/json"})
        assert r.status_code == 400 and "\n" not in r.json()["error"]
        assert c.get("/api/info").status_code == 200


def test_state_changes_need_the_token_and_are_refused_read_only(photo_index):
    ix_dir, photos = photo_index
    groups = [{"keep": [str(photos / "s1.jpg")], "trash": [str(photos / "s1_small.jpg")]}]
    with TestClient(create_app(ix_dir, token="secret"), base_url=LOCAL) as c:
        assert c.post("/api/plan", json={"groups": groups}).status_code == 403
        assert c.post("/api/plan", json={"groups": groups}, headers={"X-Lookalike-Token": "wrong"}).status_code == 403
        r = c.post("/api/plan", json={"groups": groups}, headers={"X-Lookalike-Token": "secret"})
        assert r.status_code == 200, r.text
        name = r.json()["plan"]
        assert (ix_dir / "plans" / name).is_file() and c.get("/api/plans").json() == {"plans": [name]}
        r = c.post("/api/plan", json={"groups": [{"keep": [], "trash": [str(photos / "s1.jpg")]}]},
                   headers={"X-Lookalike-Token": "secret"})
        assert r.status_code == 400 and "keep at least one" in r.json()["error"]
        for bad in ["../catalog.sqlite", "x/../../p.json", name + ".journal.json", 5]:
            r = c.post("/api/apply", json={"plan": bad}, headers={"X-Lookalike-Token": "secret"})
            assert r.status_code == 404, bad
        r = c.post("/api/apply", json={"plan": name}, headers={"X-Lookalike-Token": "secret"})
        assert r.status_code == 200 and not (photos / "s1_small.jpg").exists()
        r = c.post("/api/apply", json={"plan": name, "undo": True}, headers={"X-Lookalike-Token": "secret"})
        assert r.status_code == 200 and r.json()["undo"] and (photos / "s1_small.jpg").exists()
    with TestClient(create_app(ix_dir, token="secret", read_only=True), base_url=LOCAL) as c:
        r = c.post("/api/plan", json={"groups": groups}, headers={"X-Lookalike-Token": "secret"})
        assert r.status_code == 403 and "read-only" in r.json()["error"]
        assert c.get("/api/dupes").status_code == 200


def test_preselect_is_the_library_rule(client, photo_index):
    _, photos = photo_index
    group = [str(photos / "s1_small.jpg"), str(photos / "s1.jpg")]
    for rule, keep in [("largest-resolution", "s1.jpg"), ("largest-file", "s1.jpg")]:
        plan = client.post("/api/preselect", json={"rule": rule, "groups": [group]}).json()
        assert plan["groups"] == [{"keep": [str(photos / keep)], "trash": [str(photos / "s1_small.jpg")]}]
    r = client.post("/api/preselect", json={"rule": "newest", "groups": [group]})
    assert r.status_code == 400


def test_missing_index_is_a_clear_page_not_a_traceback(tmp_path, photo_index):
    with TestClient(create_app(tmp_path / "nothing-here"), base_url=LOCAL) as c:
        r = c.get("/dupes")
        assert r.status_code == 503 and "no index at" in r.text and "Traceback" not in r.text
        r = c.get("/api/info")
        assert r.status_code == 503 and r.json()["code"] == "index-not-found"


def test_pages_carry_the_token_and_the_host_must_be_this_machine(client):
    r = client.get("/dupes")
    assert r.status_code == 200 and 'content="t0k"' in r.text and "/static/dupes.js" in r.text
    for page in ["/", "/regions"]:
        assert client.get(page).status_code == 200
    assert client.get("/api/info", headers={"host": "evil.example"}).status_code == 400
    assert client.get("/api/info", headers={"host": "localhost:8765"}).status_code == 200


def test_a_locked_index_is_a_one_line_409_and_the_server_keeps_serving(photo_index):
    from lookalike.indexer.locking import WriteLock

    ix_dir, photos = photo_index
    groups = [{"keep": [str(photos / "s1.jpg")], "trash": [str(photos / "s1_small.jpg")]}]
    with TestClient(create_app(ix_dir, token="k"), base_url=LOCAL) as c:
        name = c.post("/api/plan", json={"groups": groups}, headers={"X-Lookalike-Token": "k"}).json()["plan"]
        with WriteLock(ix_dir):  # another process is indexing
            r = c.post("/api/apply", json={"plan": name}, headers={"X-Lookalike-Token": "k"})
            assert r.status_code == 409 and r.json()["code"] == "index-locked"
            assert c.get("/api/dupes").status_code == 200  # reading goes on
        r = c.post("/api/apply", json={"plan": name}, headers={"X-Lookalike-Token": "k"})
        assert r.status_code == 200 and len(r.json()["moved"]) == 1
