from __future__ import annotations

import pytest

from lookalike.indexer import Index


@pytest.fixture()
def web_index(tmp_path, photo_dir):
    """An index of ``photo_dir`` (one planted duplicate pair: s1 and s1_small)."""
    ix_dir = tmp_path / "ix"
    with Index.open(ix_dir, create=True) as ix:
        ix.add([photo_dir])
    return ix_dir, photo_dir
