"""Sparseness, the Gini index of a map: known answers, and the mean-absolute-difference definition
of the Gini index computed pair by pair as the reference."""

import numpy as np
import pytest

import keras_vis
from keras_vis.metrics import evaluate, sparseness
from keras_vis.metrics.sparseness import SparsenessResult


def gini_by_pairs(values):
    """`sum_ij |x_i - x_j| / (2 n sum x)`, pair by pair."""
    values = np.abs(np.asarray(values, np.float64).ravel())
    n, total = len(values), values.sum()
    differences = sum(abs(a - b) for a in values for b in values)
    return 0.0 if total == 0 else differences / (2 * n * total)


def test_one_hot_uniform_and_blank_maps_have_known_indices():
    one_hot = np.zeros((1, 4, 5)); one_hot[0, 2, 3] = 0.7
    quarter = np.zeros((1, 4, 4)); quarter[0, :2, :2] = 1.0
    result = sparseness(np.concatenate([one_hot, np.full((1, 4, 5), 0.3),
                                        np.zeros((1, 4, 5))]))
    np.testing.assert_allclose(result.gini, [1 - 1 / 20, 0.0, 0.0], atol=1e-7)
    assert sparseness(quarter).score == pytest.approx(0.75)


def test_the_index_is_the_pairwise_definition_and_reads_magnitudes(rng):
    maps = rng.normal(size=(3, 6, 7)).astype(np.float32)
    result = sparseness(maps)
    assert isinstance(result, SparsenessResult) and result.gini.dtype == np.float32
    np.testing.assert_allclose(result.values, [gini_by_pairs(m) for m in maps], rtol=1e-5)
    np.testing.assert_allclose(sparseness(-maps).gini, result.gini)
    assert result.higher_is_better and result.curve is None
    assert evaluate("sparseness", maps=maps).score == result.score == keras_vis.sparseness(
        maps).score


def test_a_map_concentrated_on_the_object_is_sparser_than_a_spread_one(rng):
    spread = rng.random((2, 16, 16))
    focused = spread * (np.arange(16)[None, :, None] < 4)
    assert np.all(sparseness(focused).gini > sparseness(spread).gini)


@pytest.mark.parametrize("maps, message", [
    (np.ones((4, 4)), "add a batch axis"), (np.full((1, 2, 2), np.nan), "finite")])
def test_bad_maps_are_refused(maps, message):
    with pytest.raises(ValueError, match=message):
        sparseness(maps)
