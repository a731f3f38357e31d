"""The tile code: the shipped projection, its codes, the asymmetric scores search ranks by."""

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from lookalike.indexer.descriptor import DESCRIPTOR_DIM, describe_boxes
from lookalike.indexer.gridhash import hash_vectors
from lookalike.indexer.regions import TILE_HASH_BITS, TILE_SCHEME, tile_boxes
from lookalike.indexer.tilecode import TILE_CODE, TILE_CODE_BITS, TileCode, fit, tile_code
from lookalike.models.io.images import as_image


def test_the_shipped_code_is_what_the_scheme_records():
    code = tile_code()
    assert code.bits == TILE_CODE_BITS == TILE_HASH_BITS
    assert code.mean.shape == (DESCRIPTOR_DIM,) and code.matrix.shape == (DESCRIPTOR_DIM, TILE_CODE_BITS)
    assert np.allclose(code.matrix.T @ code.matrix, np.eye(code.bits), atol=1e-4)  # orthonormal directions
    assert code.meta["name"] == TILE_CODE and f'"code": "{TILE_CODE}"' in TILE_SCHEME
    assert "--write" in code.meta["command"] and len(code.meta["training"]["digest"]) == 64
    assert "held_out" in code.meta


_vectors = arrays(np.float32, (3, DESCRIPTOR_DIM), elements=st.floats(-1, 1, width=32))


@settings(max_examples=50, deadline=None)
@given(_vectors)
def test_a_projection_fits_its_own_code_best(x):
    code = tile_code()
    z = code.project(x)
    codes = code.encode(x)
    assert np.array_equal(codes, code.pack(z))
    others = np.concatenate([codes, 255 - codes])  # every code of the three, and their complements
    scores = code.asymmetric_scores(z, np.broadcast_to(others, (3, *others.shape)))
    own = scores[np.arange(3), np.arange(3)]
    assert np.all(own[:, None] >= scores - 1e-6)
    assert np.all(own <= 1 + 1e-6) and np.all(scores >= -1 - 1e-6)


def test_fit_finds_the_directions_the_data_varies_along():
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.standard_normal((40, 6)))[0]  # data lives in 6 of 40 dimensions
    x = rng.standard_normal((2000, 6)) * [5, 4, 3, 3, 2, 2] @ basis.T + 0.01 * rng.standard_normal((2000, 40)) + 3
    mean, matrix = fit(x, 6)
    assert np.allclose(mean, 3, atol=0.3)
    assert np.allclose(basis @ (basis.T @ matrix), matrix, atol=0.02)  # within the data's subspace
    assert fit(x, 6, seed=0)[1].tolist() == matrix.tolist()  # seeded
    with pytest.raises(ValueError):
        fit(x[:5], 6)


def _jpeg(im: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def test_recompressed_tiles_find_their_own_tile(make_scene):
    """A JPEG q40 copy's tiles, ranked against every tile of eight pictures by the asymmetric
    score, find the tile they are a copy of (not a neighbour two thirds the same) as often as 256
    SimHash bits do."""
    originals, copies, owners = [], [], []
    for i in range(8):
        im = make_scene(3000 + i, (320, 240))
        for dest, pic in ((originals, im), (copies, _jpeg(im, 40))):
            img = as_image(pic)
            dest.append(describe_boxes(img.pixels, img.width, img.height, tile_boxes(img.width, img.height)).vectors)
        owners.append(np.arange(len(originals[-1])) + sum(len(o) for o in originals[:-1]))
    tiles, queries, truth = np.concatenate(originals), np.concatenate(copies), np.concatenate(owners)
    code = tile_code()
    scores = code.asymmetric_scores(code.project(queries), np.broadcast_to(code.encode(tiles), (len(queries), len(tiles), code.bits // 8)))
    ours = np.mean(scores.argmax(1) == truth)
    sim = np.unpackbits(hash_vectors(queries)[:, None] ^ hash_vectors(tiles)[None], axis=2).sum(2)
    simhash = np.mean(sim.argmin(1) == truth)
    assert ours >= 0.85 and ours >= simhash - 0.02, (ours, simhash)


def test_a_zero_projection_stays_zero():
    code = TileCode(np.zeros(4, np.float32), np.eye(4, 2, dtype=np.float32), {})
    assert code.bits == 2 and np.array_equal(code.project(np.zeros((1, 4))), np.zeros((1, 2)))
