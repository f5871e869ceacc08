"""Known answers for GradientSHAP (expected gradients): exact on linear models, reproducible by
seed, and completeness `sum = f(x) - E[f(b)]` in expectation."""

import keras
from helpers import models
import numpy as np
import pytest
from helpers.state import assert_model_unchanged, model_state

import keras_vis

SHAPE = (6, 5, 3)


def linear_model():
    return models.dense_classifier(SHAPE, 4)


def conv_net():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu",
                            bias_initializer="random_normal")(inputs)
    x = keras.layers.AveragePooling2D(2)(x)
    x = keras.layers.Conv2D(5, 3, activation="relu", bias_initializer="random_normal")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="dense")(x)
    return keras.Model(inputs, outputs)


def weight_images(model, classes):
    kernel = model.get_layer("dense").get_weights()[0]
    return np.stack([kernel[:, c].reshape(SHAPE) for c in classes])


@pytest.mark.parametrize("samples", [1, 3, 16])
def test_linear_model_gives_delta_times_weights(samples, rng):
    model = linear_model()
    images = rng.normal(size=(3,) + SHAPE).astype(np.float32)
    baseline = rng.normal(size=SHAPE).astype(np.float32)
    classes = [3, 0, 2]
    before = model_state(model)
    signed = keras_vis.gradient_shap(model, images, classes, baselines=baseline, samples=samples,
                                     seed=1, normalize=False, batch_size=5)
    absolute = keras_vis.gradient_shap(model, images, classes, baselines=baseline[None],
                                       samples=samples, seed=2, normalize=False,
                                       reduce="abs_sum", batch_size=5)
    want = (images - baseline) * weight_images(model, classes)
    np.testing.assert_allclose(signed, want.sum(-1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(absolute, np.abs(want).sum(-1), rtol=1e-5, atol=1e-6)
    assert_model_unchanged(model, before)


def test_linear_model_with_baseline_set_is_relative_to_their_mean(rng):
    model = linear_model()
    images = rng.normal(size=(2,) + SHAPE).astype(np.float32)
    backgrounds = rng.normal(size=(2,) + SHAPE).astype(np.float32)
    classes = [1, 2]
    maps = keras_vis.gradient_shap(model, images, classes, baselines=backgrounds, samples=400,
                                   seed=0, normalize=False)
    logits = models.logits_of(model, np.concatenate([images, backgrounds]))
    expected = logits[[0, 1], classes] - logits[2:, classes].mean(0)
    spread = np.abs(logits[2, classes] - logits[3, classes])
    # Each sample draws one of the two baselines: the mean is off by at most a few standard
    # errors of a fair coin, spread / 2 / sqrt(400) each.
    np.testing.assert_array_less(np.abs(maps.sum((1, 2)) - expected), 4 * spread / 40 + 1e-5)
    single = keras_vis.gradient_shap(model, images, classes, baselines=backgrounds[0],
                                     samples=4, seed=0, normalize=False)
    assert np.all(np.abs(single - maps).max((1, 2)) > 1e-3)


def test_same_seed_same_maps_other_seed_other_maps(rng):
    model = conv_net()
    images = rng.random((2, 8, 8, 3), dtype=np.float32)
    backgrounds = rng.random((3, 8, 8, 3), dtype=np.float32)
    options = dict(baselines=backgrounds, samples=6, noise=0.1, normalize=False)
    first = keras_vis.gradient_shap(model, images, [0, 1], seed=7, **options)
    again = keras_vis.gradient_shap(model, images, [0, 1], seed=7, batch_size=4, **options)
    other = keras_vis.gradient_shap(model, images, [0, 1], seed=8, **options)
    np.testing.assert_allclose(first, again, rtol=1e-6, atol=1e-9)
    assert np.abs(first - other).max() > 1e-3 * np.abs(first).max()


def test_completeness_in_expectation(rng):
    """With one baseline, each sample's sum is `d f(b + α(x - b)) / dα`: their mean over many
    `α ~ U(0, 1)` approaches `f(x) - f(b)`."""
    model = conv_net()
    images = 3.0 * rng.random((2, 8, 8, 3), dtype=np.float32)
    baseline = rng.random((8, 8, 3), dtype=np.float32)
    logits = models.logits_of(model, np.concatenate([images, baseline[None]]))
    classes = np.abs(logits[:2] - logits[2]).argmax(-1)
    delta = logits[[0, 1], classes] - logits[2, classes]
    maps = keras_vis.gradient_shap(model, images, classes, baselines=baseline, samples=256,
                                   seed=0, normalize=False, batch_size=128)
    np.testing.assert_allclose(maps.sum((1, 2)), delta, rtol=0.02)
    few = keras_vis.gradient_shap(model, images, classes, baselines=baseline, samples=2,
                                  seed=0, normalize=False)
    assert np.all(np.isfinite(few))


def test_bad_arguments_are_refused(rng):
    model = linear_model()
    images = rng.normal(size=(1,) + SHAPE).astype(np.float32)
    with pytest.raises(ValueError, match="baselines"):
        keras_vis.gradient_shap(model, images, baselines=np.zeros((2, 2, 3), np.float32))
    with pytest.raises(ValueError, match="baselines"):
        keras_vis.gradient_shap(model, images, baselines=np.full(SHAPE, np.nan, np.float32))
    with pytest.raises(ValueError, match="samples"):
        keras_vis.gradient_shap(model, images, samples=0)
