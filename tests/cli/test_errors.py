"""Library errors name no flag; the CLI words each code with its flags."""

import ast
import re

import pytest
import torch

from lookalike.cli.errors import _WITH_FLAGS, cli_message
from lookalike.indexer import Index, IndexNotFoundError, QueryError
from lookalike.models.embed.backbones import load_backbone
from lookalike.models.embed.embedding import resolve_device
from lookalike.models.embed.lookalike_s import load_lookalike_s
from lookalike.models.errors import EmbedderError, LookalikeError

from ..conftest import ROOT


def test_no_library_error_names_a_flag():
    """Every string (or f-string part) in a ``raise`` of models/ and indexer/ is free of ``--flag``."""
    found = []
    for package in ("models", "indexer"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Raise) and node.exc is not None:
                    for sub in ast.walk(node.exc):
                        if isinstance(sub, ast.Constant) and isinstance(sub.value, str) and re.search(r"--[a-z]", sub.value):
                            found.append(f"{path.relative_to(ROOT)}:{sub.lineno}: {sub.value}")
    assert not found


def _raised(fn) -> LookalikeError:
    with pytest.raises(LookalikeError) as info:
        fn()
    return info.value


def test_each_code_is_worded_with_its_flags(tmp_path):
    seen = {}
    seen["index-not-found"] = _raised(lambda: Index.open(tmp_path / "none"))
    seen["weights-not-found"] = _raised(lambda: load_backbone("resnet50", weights=tmp_path / "no.pt"))
    seen["lookalike-s-weights-missing"] = _raised(lambda: load_lookalike_s(tmp_path / "no.pt"))
    with Index.open(tmp_path / "ix", create=True) as ix:
        seen["bad-min-score"] = _raised(lambda: ix.search(tmp_path / "q.png", min_score=3))
        seen["no-keypoints"] = _raised(lambda: ix.duplicates(regions=True))
        seen["bad-rule"] = _raised(lambda: __import__("lookalike.indexer.plan").indexer.plan.preselect([], "newest"))
    if not torch.cuda.is_available():
        seen["device-unavailable"] = _raised(lambda: resolve_device("cuda"))
    assert isinstance(seen["index-not-found"], IndexNotFoundError)
    assert isinstance(seen["weights-not-found"], EmbedderError)
    assert isinstance(seen["bad-min-score"], QueryError)
    for code, exc in seen.items():
        assert exc.code == code
        worded = cli_message(exc)
        assert worded != str(exc) and "--" in worded and "--" not in str(exc), code
    assert cli_message(seen["index-not-found"]) == (
        f"no index at {tmp_path / 'none'} (create one with `lookalike index PATH --index {tmp_path / 'none'}`)")
    assert cli_message(seen["weights-not-found"]) == f"--weights {tmp_path / 'no.pt'}: no such file"


def test_codes_without_flags_or_details_keep_the_library_words():
    assert cli_message(QueryError("nothing to say")) == "nothing to say"
    assert cli_message(EmbedderError("no details given", code="weights-not-found")) == "no details given"
    assert set(_WITH_FLAGS) >= {"index-not-found", "embedder-mismatch", "weights-mismatch", "weights-not-cached"}
