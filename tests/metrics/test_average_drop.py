"""Known-answer tests of average drop and increase in confidence."""

import keras
import numpy as np
import pytest
from helpers.state import assert_model_unchanged, model_state
from helpers.models import dense_probabilities, linear_softmax

from keras_vis import engine
from keras_vis.metrics import DropResult, average_drop
from keras_vis.targets import Class

SIDE, CHANNELS = 4, 2


@pytest.fixture
def sum_model():
    """Logits (sum of the pixels, 0) through a softmax: the class-0 probability is sigmoid(sum)."""
    inputs = keras.Input((2, 2, 1))
    x = keras.layers.Flatten()(inputs)
    outputs = keras.layers.Dense(2, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs, outputs)
    kernel = np.stack([np.ones(4), np.zeros(4)], axis=1).astype("float32")
    model.get_layer("predictions").set_weights([kernel, np.zeros(2, "float32")])
    return model


@pytest.fixture
def linear_model(rng):
    return linear_softmax(SIDE, CHANNELS, rng)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def test_hand_computed_drop_and_increase(sum_model):
    images = np.ones((3, 2, 2, 1), "float32")
    images[2] = [[[1.0], [-1.0]], [[1.0], [1.0]]]  # sum 2
    maps = np.full((3, 2, 2), 0.5, "float32")
    maps[1] = [[1.0, 0.0], [0.0, 0.0]]
    maps[2] = [[1.0, 0.0], [1.0, 1.0]]  # hides the one negative pixel: the confidence rises
    before = model_state(sum_model)
    result = average_drop(sum_model, images, maps, target=0)
    y = _sigmoid(np.array([4.0, 4.0, 2.0]))
    o = _sigmoid(np.array([2.0, 1.0, 3.0]))
    assert isinstance(result, DropResult)
    np.testing.assert_allclose(result.scores, y, rtol=1e-6)
    np.testing.assert_allclose(result.masked_scores, o, rtol=1e-6)
    drops = np.maximum(y - o, 0) / y * 100
    np.testing.assert_allclose(result.drops, drops, rtol=1e-5)
    assert result.drops[2] == 0
    np.testing.assert_array_equal(result.increased, [False, False, True])
    assert result.average_drop == pytest.approx(drops.mean(), rel=1e-5)
    assert result.increase_rate == pytest.approx(100 / 3)
    np.testing.assert_array_equal(result.classes, [0, 0, 0])
    assert "average drop" in str(result) and "33.3%" in str(result)
    assert_model_unchanged(sum_model, before)


def test_matches_a_naive_reference_for_the_predicted_class(linear_model, rng):
    images = rng.uniform(0, 1, (5, SIDE, SIDE, CHANNELS)).astype("float32")
    maps = rng.uniform(0, 1, (5, SIDE, SIDE)).astype("float32")
    result = average_drop(linear_model, images, maps, batch_size=3)
    predicted = dense_probabilities(linear_model, images).argmax(axis=1)
    rows = np.arange(5)
    y = dense_probabilities(linear_model, images)[rows, predicted]
    o = dense_probabilities(linear_model, images * maps[..., None])[rows, predicted]
    np.testing.assert_array_equal(result.classes, predicted)
    np.testing.assert_allclose(result.drops, np.maximum(y - o, 0) / y * 100, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(result.increased, o > y)


def test_a_baseline_fades_the_image_towards_it(linear_model, rng):
    images = rng.uniform(0, 1, (3, SIDE, SIDE, CHANNELS)).astype("float32")
    maps = rng.uniform(0, 1, (3, SIDE, SIDE)).astype("float32")
    result = average_drop(linear_model, images, maps, target=1, baseline="mean")
    fill = images.mean(axis=(1, 2), keepdims=True)
    seen = fill + maps[..., None] * (images - fill)
    np.testing.assert_allclose(result.masked_scores, dense_probabilities(linear_model, seen)[:, 1],
                               rtol=1e-5)
    result = average_drop(linear_model, images, maps, target=1, baseline=[0.5, -1.0])
    seen = np.array([0.5, -1.0]) + maps[..., None] * (images - np.array([0.5, -1.0]))
    np.testing.assert_allclose(result.masked_scores, dense_probabilities(linear_model, seen)[:, 1],
                               rtol=1e-5)


def test_maps_of_ones_lose_nothing(linear_model, rng):
    images = rng.uniform(0, 1, (4, SIDE, SIDE, CHANNELS)).astype("float32")
    result = average_drop(linear_model, images, np.ones((4, SIDE, SIDE)), baseline="blur")
    np.testing.assert_array_equal(result.scores, result.masked_scores)
    assert result.average_drop == 0 and result.increase_rate == 0
    assert not result.increased.any()


def test_average_drop_compiles_once(linear_model, rng):
    images = rng.uniform(size=(3, SIDE, SIDE, CHANNELS)).astype("float32")
    maps = rng.uniform(size=(3, SIDE, SIDE)).astype("float32")
    average_drop(linear_model, images, maps, batch_size=1)
    average_drop(linear_model, images, maps, batch_size=4)
    step = engine.get_engine(linear_model, (), Class(None), head="model", input_grads=False)
    assert step.trace_count == 1


@pytest.mark.parametrize(
    "maps, error, words",
    [
        (-np.ones((2, SIDE, SIDE)), ValueError, "non-negative"),
        (np.full((2, SIDE, SIDE), 1.5), ValueError, r"values in \[0, 1\]"),
        (np.ones((2, SIDE, SIDE + 1)), ValueError, r"shape \(2, 4, 4\)"),
        (np.full((2, SIDE, SIDE), np.nan), ValueError, "finite"),
        ("maps", TypeError, "`maps`"),
    ],
)
def test_bad_maps_are_refused_clearly(linear_model, maps, error, words):
    images = np.ones((2, SIDE, SIDE, CHANNELS), "float32")
    with pytest.raises(error, match=words):
        average_drop(linear_model, images, maps)


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"baseline": "noise"}, ValueError, "'mean' or 'blur'"),
        ({"batch_size": 0}, ValueError, "`batch_size`"),
        ({"target": lambda outputs: outputs[:, 0] - 2.0}, ValueError, "confidence"),
    ],
)
def test_bad_options_are_refused_clearly(linear_model, kwargs, error, words):
    images = np.ones((2, SIDE, SIDE, CHANNELS), "float32")
    with pytest.raises(error, match=words):
        average_drop(linear_model, images, np.ones((2, SIDE, SIDE)), **kwargs)
