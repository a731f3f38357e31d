"""Embedders: the interface, shapes and normalization, weights loading, orientation, training."""

from __future__ import annotations

import random
import urllib.error

import numpy as np
import pytest
import torch
from PIL import Image

from lookalike.models.errors import EmbedderError
from lookalike.models.embed import edits
from lookalike.models.embed.backbones import BACKBONES, load_backbone
from lookalike.models.embed.registry import load_embedder
from lookalike.cli.errors import cli_message
from lookalike.models.embed.embedding import Embedder, GridHead, resolve_device
from lookalike.models.orientation import orientation_variants
from lookalike.models.embed.lookalike_s import LookalikeSNet, default_weights_path, load_lookalike_s, save_checkpoint
from lookalike.models.embed.training import TrainConfig, train_lookalike_s

SMALL = {"widths": [8, 16, 16], "strides": [2, 2, 1], "dim": 32, "input_side": 48}


def _random_checkpoint(path, seed: int = 0) -> str:
    torch.manual_seed(seed)
    return save_checkpoint(LookalikeSNet(**SMALL), path, {"test": True})


def _images(seed: int, n: int = 3) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    sizes = [(40, 60), (64, 48), (50, 50), (33, 90)]
    return [rng.integers(0, 256, sizes[i % 4] + (3,), dtype=np.uint8) for i in range(n)]


def small_embedder_path(tmp_path):
    p = tmp_path / "s.pt"
    if not p.exists():
        _random_checkpoint(p)
    return p


@pytest.fixture()
def small_embedder(tmp_path) -> Embedder:
    return load_lookalike_s(small_embedder_path(tmp_path), device="cpu")


def test_embed_shapes_dtype_and_unit_length(small_embedder):
    imgs = _images(1, 4)
    e = small_embedder.embed(imgs)
    assert e.shape == (4, small_embedder.dim) == (4, 32)
    assert e.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    boxes = np.array([[0, 0, 20, 20], [10, 5, 30, 30], [0, 0, 60, 40]])
    r = small_embedder.embed_regions(imgs[0], boxes)
    assert r.shape == (3, 32) and r.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(r, axis=1), 1.0, atol=1e-5)
    # the whole-image box pooled from the feature map is the image's own embedding
    both = small_embedder.embed_with_regions([imgs[0]], [boxes])[0]
    np.testing.assert_allclose(both[1:], r, atol=1e-6)
    np.testing.assert_allclose(both[3], both[0], atol=1e-5)


def test_the_same_embeddings_on_each_device(device, tmp_path, small_embedder):
    """The embedder runs where it is put (float16 autocast on CUDA), and agrees with the CPU's."""
    emb = load_lookalike_s(small_embedder_path(tmp_path), device=device)
    assert emb.device.type == torch.device(device).type
    imgs = _images(5, 3)
    boxes = np.array([[0, 0, 20, 20], [5, 5, 30, 30]])
    got = emb.embed_with_regions(imgs, [boxes] * 3)
    want = small_embedder.embed_with_regions(imgs, [boxes] * 3)
    for g, w in zip(got, want):
        assert g.dtype == np.float32 and g.shape == w.shape
        assert np.min(np.sum(g * w, axis=1)) > 0.999


def test_batched_equals_one_by_one(small_embedder):
    imgs = _images(2, 4)
    together = small_embedder.embed(imgs)
    alone = np.concatenate([small_embedder.embed([im]) for im in imgs])
    # padding to the batch's largest image must not change an image's embedding much
    assert np.min(np.sum(together * alone, axis=1)) > 0.98


def test_tensor_and_array_inputs_agree(small_embedder):
    im = _images(3, 1)[0]
    t = torch.from_numpy(im).permute(2, 0, 1).float() / 255
    np.testing.assert_allclose(small_embedder.embed([im]), small_embedder.embed(t[None]), atol=1e-5)


def test_bad_inputs_are_rejected(small_embedder):
    with pytest.raises(ValueError):
        small_embedder.embed([np.zeros((10, 10), np.uint8)])
    with pytest.raises(ValueError):
        small_embedder.embed([np.zeros((10, 10, 3), np.float64)])
    with pytest.raises(ValueError):
        small_embedder.embed_with_regions([np.zeros((10, 10, 3), np.uint8)], [])


@pytest.mark.parametrize("dense", [True, False])
def test_grid_head_keeps_layout(dense):
    """Mirroring the feature map moves features between the 2x2 cells: with the identity
    as projection, a mirrored map gives a different descriptor (a global pool would not)."""
    head = GridHead(4, 1, projection="none", dense=dense)
    f = torch.rand(1, 4, 8, 8)
    rois = torch.tensor([[0, 0, 0, 8, 8]], dtype=torch.float32)
    a, b = head(f, rois), head(f.flip(-1), rois)
    assert float((a * b).sum()) < 0.999
    g = torch.nn.functional.adaptive_avg_pool2d(f, 1).flatten()
    gm = torch.nn.functional.adaptive_avg_pool2d(f.flip(-1), 1).flatten()
    torch.testing.assert_close(g, gm)


def test_version_follows_the_weights(tmp_path):
    a, b = tmp_path / "a.pt", tmp_path / "b.pt"
    va, vb = _random_checkpoint(a, 0), _random_checkpoint(b, 1)
    assert va != vb
    assert load_lookalike_s(a, "cpu").version == va


def test_missing_and_bad_checkpoints_fail_clearly(tmp_path, monkeypatch):
    with pytest.raises(EmbedderError, match="not found"):
        load_lookalike_s(tmp_path / "nope.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not torch")
    with pytest.raises(EmbedderError, match="not a lookalike-s checkpoint"):
        load_lookalike_s(junk)
    torch.save({"some": "dict"}, tmp_path / "other.pt")
    with pytest.raises(EmbedderError, match="not a lookalike-s checkpoint"):
        load_lookalike_s(tmp_path / "other.pt")
    monkeypatch.setenv("LOOKALIKE_S_WEIGHTS", str(tmp_path / "env.pt"))
    assert default_weights_path() == tmp_path / "env.pt"


def test_unknown_names_and_devices():
    with pytest.raises(EmbedderError, match="unknown embedder"):
        load_embedder("vgg-nope")
    with pytest.raises(EmbedderError, match="unknown device"):
        resolve_device("gpu9")
    if not torch.cuda.is_available():
        with pytest.raises(EmbedderError, match="no CUDA"):
            resolve_device("cuda")
    assert resolve_device("cpu").type == "cpu"


@pytest.mark.parametrize("name", ["mobilenet_v3_large", "resnet50"])
def test_backbone_loads_a_local_state_dict(tmp_path, name):
    import torchvision.models as tvm

    torch.manual_seed(0)
    model = getattr(tvm, name)(weights=None)
    path = tmp_path / f"{name}.pth"
    torch.save(model.state_dict(), path)
    emb = load_backbone(name, weights=path, device="cpu")
    assert emb.name == name and emb.version.startswith("torchvision-file:")
    e = emb.embed(_images(5, 2))
    assert e.shape == (2, 512) and e.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    # the loaded weights are the ones used (not a fresh random init)
    trunk_weight = next(emb.trunk.parameters())
    torch.testing.assert_close(trunk_weight.cpu(), next(iter(model.state_dict().values())))


def test_backbone_rejects_weights_of_another_model(tmp_path):
    import torchvision.models as tvm

    path = tmp_path / "mnv3.pth"
    torch.save(tvm.mobilenet_v3_large(weights=None).state_dict(), path)
    with pytest.raises(EmbedderError, match="do not fit resnet50"):
        load_backbone("resnet50", weights=path)
    with pytest.raises(EmbedderError, match="no such file"):
        load_backbone("resnet50", weights=tmp_path / "missing.pth")


def test_backbone_offline_without_cache_says_which_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    import torchvision.models._api as tv_api

    monkeypatch.setattr(tv_api, "load_state_dict_from_url", offline)
    for name in BACKBONES:
        with pytest.raises(EmbedderError) as info:
            load_backbone(name)
        msg = str(info.value)
        assert "cannot be downloaded" in msg and "a weights file" in msg and str(tmp_path / "torch") in msg
        assert "--" not in msg  # the library names no flag; the CLI does, by the error's code
        assert info.value.code == "weights-not-cached"
        assert "pass --weights FILE" in cli_message(info.value) and str(tmp_path / "torch") in cli_message(info.value)


def test_shipped_lookalike_s_loads_and_keeps_orientation():
    """The checkpoint in data/ loads offline; on a photo-like scene its upright embedding is
    closer to a JPEG copy than to any rotation, mirror or channel swap."""
    path = default_weights_path()
    if not path.exists():
        pytest.skip("data/lookalike-s.pt is not present in this checkout")
    emb = load_lookalike_s(path, "cpu")
    assert emb.dim == 128
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("make_sample", Path(__file__).resolve().parents[3] / "data" / "make_sample.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    im = mod.scene(7, (320, 240))
    copy = edits.jpeg(im, 30)
    e = emb.embed([np.asarray(copy)] + orientation_variants(np.asarray(im)))
    sims = e[1:] @ e[0]
    assert sims[0] == sims.max()
    assert sims[0] - sims[1:].max() > 0.02


def test_short_training_lowers_the_loss_and_records_metadata(tmp_path, make_scene):
    d = tmp_path / "photos"
    d.mkdir()
    for i in range(6):
        make_scene(300 + i, (96, 72)).save(d / f"p{i}.png")
    (d / "bad.png").write_bytes(b"junk")
    out = tmp_path / "s.pt"
    cfg = TrainConfig(steps=30, batch=6, seed=3, lr=3e-3)
    rep = train_lookalike_s([d], out, cfg, device="cpu", command="lookalike train test")
    assert rep.images == 6 and rep.steps == 30
    assert rep.last_loss < rep.first_loss
    ck = torch.load(out, weights_only=True)
    meta = ck["meta"]
    assert meta["seed"] == 3 and meta["command"] == "lookalike train test" and meta["data"]["images"] == 6
    assert "jpeg15" in meta["positives"] and meta["steps"] == 30
    emb = load_lookalike_s(out, "cpu")
    assert emb.version == rep.version
    # reproducible: same seed, same data, same weights
    rep2 = train_lookalike_s([d], tmp_path / "s2.pt", cfg, device="cpu")
    assert rep2.losses == pytest.approx(rep.losses, rel=1e-4)


def test_training_needs_two_images(tmp_path, make_scene):
    d = tmp_path / "one"
    d.mkdir()
    make_scene(1, (64, 64)).save(d / "a.png")
    with pytest.raises(EmbedderError, match="at least 2"):
        train_lookalike_s([d], tmp_path / "x.pt", TrainConfig(steps=1), device="cpu")


def test_hard_edits_keep_size_rules():
    rng = random.Random(0)
    im = Image.new("RGB", (200, 100), (10, 200, 30))
    assert edits.HARD_EDITS["trim25"](im, rng).size == (150, 75)
    assert edits.HARD_EDITS["quarter"](im, rng).size == (100, 50)
    assert edits.HARD_EDITS["text"](im, rng).size == (200, 100)
    for name in ("caption", "sticker"):
        assert edits.HARD_EDITS[name](im, rng).size == (200, 100)
    g = np.asarray(edits.gamma(Image.new("RGB", (2, 2), (128, 128, 128)), 0.7))
    assert g[0, 0, 0] == round(255 * (128 / 255) ** 0.7)


@pytest.mark.parametrize("seed", range(20))
def test_overlays_cover_what_they_say(seed):
    rng = random.Random(seed)
    w, h = rng.randint(60, 400), rng.randint(60, 400)
    im = Image.new("RGB", (w, h), (90, 140, 60))
    a = np.asarray(im)
    cap = np.asarray(edits.caption_band(im, rng))
    rows = np.flatnonzero((cap != a).any(axis=(1, 2)))
    # a full-width band in the lower third, 4-9% of the height (plus the rounding of tiny pictures)
    assert rows.min() >= h * 0.8 and len(rows) <= max(4, round(h * 0.09)) + 1
    assert (cap[rows[0]] != a[rows[0]]).any(axis=-1).all()  # the band spans the width
    st = np.asarray(edits.sticker(im, rng))
    changed = (st != a).any(axis=-1)
    ys, xs = np.nonzero(changed)
    area = changed.mean()
    assert 0.015 < area <= 0.06 + 1e-9
    # near a corner: the changed box touches the outer 45% of both axes
    assert min(xs.min(), w - 1 - xs.max()) < 0.45 * w and min(ys.min(), h - 1 - ys.max()) < 0.45 * h


def test_training_never_draws_a_negative_equal_to_the_photo():
    from lookalike.models.embed.training import _negatives

    gray = Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 50), np.uint8)).convert("RGB")
    turns, channels = _negatives(gray)
    assert channels == [] and len(turns) == 7
    sym = np.zeros((40, 40, 3), np.uint8)
    sym[10:30, 10:30] = (200, 90, 30)  # a centred orange square: every turn and mirror is itself
    turns, channels = _negatives(Image.fromarray(sym))
    assert turns == [] and len(channels) == 5
    half = sym.copy()
    half[:, :20] = (0, 0, 255)  # left half blue: a vertical mirror changes it, a flip top-bottom does not
    turns, _ = _negatives(Image.fromarray(half))
    assert "flip_rot0" in turns and "flip_rot180" not in turns


def test_gray_share_trains_on_gray_photos(tmp_path, make_scene):
    d = tmp_path / "photos"
    d.mkdir()
    for i in range(4):
        make_scene(400 + i, (80, 64)).save(d / f"p{i}.png")
    rep = train_lookalike_s([d], tmp_path / "g.pt", TrainConfig(steps=3, batch=4, gray_share=1.0), device="cpu",
                            held_out="none: a test")
    meta = torch.load(tmp_path / "g.pt", weights_only=True)["meta"]
    assert rep.steps == 3 and meta["config"]["gray_share"] == 1.0 and meta["data"]["held_out"] == "none: a test"
    assert "caption" in meta["positives"] and "sticker" in meta["positives"]


def test_long_thin_images_are_capped(small_embedder):
    thin = np.full((2, 3000, 3), 120, np.uint8)
    t, sx, sy = small_embedder.prepare(thin)
    assert t.shape[1:] == (48, 4 * 48)
    assert sx == pytest.approx(4 * 48 / 3000) and sy == pytest.approx(24.0)
    assert small_embedder.embed_regions(thin, np.array([[0, 0, 1500, 2]])).shape == (1, 32)
