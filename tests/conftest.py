from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"


def _test_devices() -> list[str]:
    """The torch devices operator tests run on: the CPU always, CUDA when present;
    ``$LOOKALIKE_TEST_DEVICES`` (e.g. ``cuda``) names them instead."""
    forced = os.environ.get("LOOKALIKE_TEST_DEVICES")
    if forced:
        return [d.strip() for d in forced.split(",") if d.strip()]
    import torch

    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that takes ``device`` runs once per device of :func:`_test_devices`."""
    if "device" in metafunc.fixturenames:
        metafunc.parametrize("device", _test_devices())


def _scene_module():
    spec = importlib.util.spec_from_file_location("make_sample", ROOT / "data" / "make_sample.py")
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="session")
def make_scene():
    """``make_scene(seed, (w, h)) -> PIL.Image``: the procedural scenes of data/make_sample.py."""
    return _scene_module().scene


@pytest.fixture()
def photo_dir(tmp_path: Path, make_scene) -> Path:
    """A small collection: 8 scenes, a near-duplicate, a mirrored copy, a bad file."""
    d = tmp_path / "photos"
    d.mkdir()
    for i in range(8):
        make_scene(2000 + i, [(320, 240), (240, 320), (300, 300)][i % 3]).save(d / f"s{i}.jpg", quality=90)
    s1 = Image.open(d / "s1.jpg")
    s1.resize((s1.width // 2, s1.height // 2)).save(d / "s1_small.jpg", quality=40)
    Image.open(d / "s2.jpg").transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(d / "s2_mirror.jpg", quality=90)
    (d / "bad.jpg").write_bytes(b"not a jpeg at all")
    return d


@pytest.fixture()
def photo_index(tmp_path: Path, photo_dir: Path) -> tuple[Path, Path]:
    """``(index folder, photo_dir)``: photo_dir indexed, keypoints kept (one duplicate pair: s1 and s1_small)."""
    from lookalike.indexer import Index

    ix_dir = tmp_path / "ix"
    with Index.open(ix_dir, create=True) as ix:
        ix.add([photo_dir], keypoints=True)
    return ix_dir, photo_dir


@pytest.fixture()
def sample_copy(tmp_path: Path) -> Path:
    dst = tmp_path / "sample"
    shutil.copytree(SAMPLE, dst)
    return dst


def random_image(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A smooth random color image (blobs), (h, w, 3) uint8."""
    small = rng.integers(0, 256, (max(2, h // 8), max(2, w // 8), 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC))
