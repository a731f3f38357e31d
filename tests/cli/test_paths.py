"""File names are bytes: a name that is not valid UTF-8 is indexed, searched, reported and
served like any other, stored losslessly and shown escaped."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from typer.testing import CliRunner

from lookalike.cli.app import app
from lookalike.indexer import Index

runner = CliRunner()
ODD = b"caf\xe9 \xff\xfe.jpg"  # Latin-1 and stray bytes: not UTF-8


@pytest.fixture()
def odd_dir(tmp_path, photo_dir):
    if os.fsencode(os.fsdecode(ODD)) != ODD:  # pragma: no cover - a file system that cannot hold it
        pytest.skip("file names here cannot hold arbitrary bytes")
    shutil.copy(photo_dir / "s1.jpg", os.path.join(os.fsencode(photo_dir), ODD))
    return photo_dir


def test_library_keeps_the_bytes_of_a_name(tmp_path, odd_dir):
    with Index.open(tmp_path / "ix", create=True) as ix:
        report = ix.add([odd_dir], workers=1)
        assert report.added == 11 and [os.path.basename(s.path) for s in report.skipped] == ["bad.jpg"]
        names = [os.fsencode(p) for p in ix.catalog.iter_paths()]
        assert os.path.join(os.fsencode(odd_dir), ODD) in names
        hits = ix.search(os.path.join(os.fsencode(odd_dir), ODD).decode("utf-8", "surrogateescape"), k=2)
        assert {os.path.basename(os.fsencode(h.path)) for h in hits} == {ODD, b"s1.jpg"}
        assert all(h.match for h in hits)
        groups = ix.duplicates().groups
        assert any({os.path.basename(os.fsencode(p)) for p in g} >= {ODD, b"s1.jpg"} for g in groups)
        # the file changes: it is described again and replaces its old record
        os.utime(os.path.join(os.fsencode(odd_dir), ODD), ns=(5, 5))
        assert ix.add([odd_dir], workers=1).updated == 1
        assert ix.verify().ok


def test_cli_json_round_trips_and_text_is_escaped(tmp_path, odd_dir):
    ix = tmp_path / "ix"
    r = runner.invoke(app, ["index", str(odd_dir), "--index", str(ix), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["added"] == 11
    query = os.fsdecode(os.path.join(os.fsencode(odd_dir), ODD))
    r = runner.invoke(app, ["search", query, "--index", str(ix), "--json", "-k", "2"])
    assert r.exit_code == 0, r.output
    line = json.loads(r.stdout)
    assert os.fsencode(line["query"]).endswith(ODD)  # lossless: the same bytes come back
    assert {os.path.basename(os.fsencode(h["path"])) for h in line["hits"]} == {ODD, b"s1.jpg"}
    r = runner.invoke(app, ["search", query, "--index", str(ix), "-k", "2"])
    assert r.exit_code == 0, r.output
    assert "caf\\xe9 \\xff\\xfe.jpg" in r.stdout  # shown escaped
    r = runner.invoke(app, ["dupes", "--index", str(ix)])
    assert r.exit_code == 0 and "caf\\xe9 \\xff\\xfe.jpg" in r.stdout


def test_web_api_serves_such_a_name(tmp_path, odd_dir):
    from fastapi.testclient import TestClient

    from lookalike.cli.web.app import create_app

    with Index.open(tmp_path / "ix", create=True) as ix:
        ix.add([odd_dir], workers=1)
    with TestClient(create_app(tmp_path / "ix"), base_url="http://127.0.0.1") as client:
        query = os.fsdecode(os.path.join(os.fsencode(odd_dir), ODD))
        r = client.post("/api/search", content=json.dumps({"path": query}),  # \udcXX escapes, as the page sends
                        headers={"content-type": "application/json"})
        assert r.status_code == 200, r.text
        hits = json.loads(r.content)["hits"]
        assert os.fsencode(hits[0]["path"]).endswith(ODD) or os.fsencode(hits[1]["path"]).endswith(ODD)
        groups = json.loads(client.get("/api/dupes").content)["groups"]
        assert any(os.fsencode(p).endswith(ODD) for g in groups for p in g)
