"""The orientation check's rule: what each variant of a query must be beaten by."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from lookalike.indexer.fusion import SAME_VARIANT, orientation_excess, orientation_needs


def _unit(rng, n, d=16):
    v = rng.normal(size=(n, d))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_a_variant_equal_to_the_upright_query_asks_nothing():
    rng = np.random.default_rng(0)
    up, other = _unit(rng, 2)
    variants = np.stack([up, up, other])  # a gray picture: its channel swap is itself
    needs = orientation_needs(variants @ up, None, 0.02)
    assert needs[0] == -np.inf and needs[1] == 0.02
    copy = up + 0.05 * _unit(rng, 1)[0]
    copy /= np.linalg.norm(copy)
    assert orientation_excess((variants @ copy)[None], None, needs)[0] >= 0


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 10_000), least=st.sampled_from([0.02, -0.01]), gap=st.floats(0.01, 0.6))
def test_a_candidate_equal_to_a_differing_variant_never_passes(seed, least, gap):
    """Property: whatever the margin asked, a hit that is exactly a variant which differs from
    the upright query (by more than SAME_VARIANT) is refused; the upright query itself passes."""
    rng = np.random.default_rng(seed)
    up = _unit(rng, 1)[0]
    # a variant at cosine 1 - gap from the upright query
    o = _unit(rng, 1)[0]
    o -= (o @ up) * up
    o /= np.linalg.norm(o)
    c = 1 - gap
    var = c * up + np.sqrt(1 - c * c) * o
    variants = np.stack([up, var])
    grid_self, embed_self = variants @ up, variants @ up
    needs = orientation_needs(grid_self, embed_self, least)
    assert gap > SAME_VARIANT
    sims = np.stack([variants @ var, variants @ up])
    excess = orientation_excess(sims, sims, needs)
    assert excess[0] < 0 or least < 0 and gap <= -least + 1e-9  # a tolerance only forgives near ties
    assert excess[1] >= 0
