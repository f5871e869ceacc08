"""Known-answer tests of MuFidelity: on a linear score, the true contributions correlate exactly."""

import keras
import numpy as np
import pytest
from helpers.state import assert_model_unchanged, model_state

from keras_vis import engine
from keras_vis.metrics import MuFidelityResult, mufidelity
from keras_vis.targets import Class

SIDE, CHANNELS = 8, 2


def _dense_model(rng, activation=None, zero=False):
    """8×8×2 → flatten → dense(2): logit 0 is `w · x + b`, a score linear in the pixels."""
    inputs = keras.Input((SIDE, SIDE, CHANNELS))
    x = keras.layers.Flatten()(inputs)
    outputs = keras.layers.Dense(2, activation=activation, name="predictions")(x)
    model = keras.Model(inputs, outputs)
    kernel = rng.normal(size=(SIDE * SIDE * CHANNELS, 2)).astype("float32")
    if zero:
        kernel[:] = 0
    model.get_layer("predictions").set_weights([kernel, np.array([0.3, -0.2], "float32")])
    return model


def _contributions(model, images, unit=0):
    kernel = model.get_layer("predictions").get_weights()[0][:, unit]
    return (images * kernel.reshape(SIDE, SIDE, CHANNELS)).sum(axis=-1)


def test_the_true_contributions_of_a_linear_score_correlate_exactly(rng):
    # With a zero baseline, removing S drops w · x by the sum of w * x over S: the map's mass.
    model = _dense_model(rng)
    images = rng.uniform(0, 1, (3, SIDE, SIDE, CHANNELS)).astype("float32")
    maps = _contributions(model, images)
    before = model_state(model)
    result = mufidelity(model, images, maps, target=0, grid=4, samples=32, batch_size=7)
    assert isinstance(result, MuFidelityResult)
    np.testing.assert_allclose(result.drops, result.masses, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(result.correlations, 1.0, atol=1e-5)
    assert result.mean == pytest.approx(1.0, abs=1e-5)
    assert result.masses.shape == result.drops.shape == (3, 32)
    np.testing.assert_array_equal(result.classes, [0, 0, 0])
    assert "MuFidelity" in str(result) and "32 subsets" in str(result)
    assert_model_unchanged(model, before)
    opposite = mufidelity(model, images, -maps, target=0, grid=4, samples=32)
    np.testing.assert_allclose(opposite.correlations, -1.0, atol=1e-5)


def test_logits_score_the_linear_layer_of_a_softmax_model(rng):
    model = _dense_model(rng, activation="softmax")
    images = rng.uniform(0, 1, (2, SIDE, SIDE, CHANNELS)).astype("float32")
    margin = _contributions(model, images, 0)
    result = mufidelity(model, images, margin, target=0, grid=None, samples=16, logits=True)
    np.testing.assert_allclose(result.correlations, 1.0, atol=1e-5)
    probabilities = mufidelity(model, images, margin, target=0, grid=None, samples=16)
    assert np.all(probabilities.correlations < 1.0 - 1e-4)  # a softmax is not linear


def test_each_subset_removes_the_same_share_of_whole_cells(rng):
    # A map of ones weighs the removed pixels: 16 cells of 2×2 pixels, round(0.3 * 16) = 5 removed.
    model = _dense_model(rng)
    images = rng.uniform(0, 1, (2, SIDE, SIDE, CHANNELS)).astype("float32")
    result = mufidelity(model, images, np.ones((2, SIDE, SIDE)), target=0, grid=4, subset=0.3,
                        samples=8)
    np.testing.assert_array_equal(result.masses, 5 * 4)
    np.testing.assert_array_equal(result.correlations, 0)  # the mass does not vary: no correlation
    # Two pixels of one 2×2 cell are removed together or not at all.
    pair = np.zeros((1, SIDE, SIDE))
    pair[0, 0, 0] = pair[0, 1, 1] = 1
    result = mufidelity(model, images[:1], pair, target=0, grid=4, subset=0.5, samples=64)
    assert set(np.unique(result.masses)) == {0, 2}
    assert 0.25 < np.mean(result.masses == 2) < 0.75  # each cell is removed half the time
    # Without a grid, the pixels are removed one by one: round(0.25 * 64) = 16 of them.
    result = mufidelity(model, images[:1], np.ones((1, SIDE, SIDE)), target=0, grid=None,
                        subset=0.25, samples=4)
    np.testing.assert_array_equal(result.masses, 16)


def test_random_maps_correlate_about_zero(rng):
    model = _dense_model(rng)
    images = rng.uniform(0, 1, (8, SIDE, SIDE, CHANNELS)).astype("float32")
    maps = rng.uniform(size=(8, SIDE, SIDE)).astype("float32")
    result = mufidelity(model, images, maps, target=0, grid=None, samples=64, batch_size=128)
    assert abs(result.mean) < 0.15  # about N(0, 1 / sqrt(8 * 64)) = ± 0.04
    assert np.all(np.abs(result.correlations) < 0.6)


def test_the_same_seed_draws_the_same_subsets(rng):
    # A linear score keeps the drops well conditioned: oneDNN may sum another batch size in another
    # order, and a saturated softmax would turn those ulps into visible differences of correlation.
    model = _dense_model(rng)
    images = rng.uniform(0, 1, (3, SIDE, SIDE, CHANNELS)).astype("float32")
    maps = rng.uniform(size=(3, SIDE, SIDE)).astype("float32")
    first = mufidelity(model, images, maps, grid=4, samples=16, seed=3, batch_size=5)
    second = mufidelity(model, images, maps, grid=4, samples=16, seed=3, batch_size=64)
    other = mufidelity(model, images, maps, grid=4, samples=16, seed=4)
    np.testing.assert_array_equal(first.masses, second.masses)
    np.testing.assert_allclose(first.drops, second.drops, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(first.correlations, second.correlations, atol=1e-5)
    assert not np.array_equal(first.masses, other.masses)
    alone = mufidelity(model, images[1:2], maps[1:2], grid=4, samples=16, seed=3)
    np.testing.assert_allclose(alone.correlations, first.correlations[1:2], atol=1e-5)


def test_a_model_that_ignores_its_input_scores_zero_not_nan(rng):
    model = _dense_model(rng, zero=True)
    images = rng.uniform(0, 1, (2, SIDE, SIDE, CHANNELS)).astype("float32")
    result = mufidelity(model, images, rng.uniform(size=(2, SIDE, SIDE)), grid=4, samples=8)
    np.testing.assert_array_equal(result.correlations, 0)
    np.testing.assert_array_equal(result.drops, 0)


def test_mufidelity_compiles_once(rng):
    model = _dense_model(rng, activation="softmax")
    images = rng.uniform(size=(2, SIDE, SIDE, CHANNELS)).astype("float32")
    maps = rng.uniform(size=(2, SIDE, SIDE)).astype("float32")
    mufidelity(model, images, maps, grid=2, samples=4, batch_size=3)
    mufidelity(model, images, maps, grid=4, samples=6, batch_size=5)
    step = engine.get_engine(model, (), Class(None), head="model", input_grads=False)
    assert step.trace_count == 1


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"grid": 1}, ValueError, "`grid`"),
        ({"grid": SIDE + 1}, ValueError, "at most 8"),
        ({"grid": 2.5}, TypeError, "`grid`"),
        ({"subset": 0}, ValueError, "`subset`"),
        ({"subset": 1.0}, ValueError, "`subset`"),
        ({"samples": 1}, ValueError, "`samples`"),
        ({"seed": -1}, ValueError, "`seed`"),
        ({"baseline": "noise"}, ValueError, "'mean' or 'blur'"),
        ({"logits": "yes"}, TypeError, "`logits`"),
        ({"batch_size": 0}, ValueError, "`batch_size`"),
    ],
)
def test_bad_options_are_refused_clearly(rng, kwargs, error, words):
    model = _dense_model(rng)
    images = np.ones((2, SIDE, SIDE, CHANNELS), "float32")
    with pytest.raises(error, match=words):
        mufidelity(model, images, np.ones((2, SIDE, SIDE)), **{"grid": 4, **kwargs})


def test_maps_must_match_the_images(rng):
    model = _dense_model(rng)
    images = np.ones((2, SIDE, SIDE, CHANNELS), "float32")
    with pytest.raises(ValueError, match=r"shape \(2, 8, 8\)"):
        mufidelity(model, images, np.ones((2, SIDE, SIDE + 1)))
