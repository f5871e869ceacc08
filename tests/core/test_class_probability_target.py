"""`keras_vis.Class(..., logits=...)`: a label's probability or logit, whatever the method
scores."""

import keras
import numpy as np
import pytest
from helpers.state import signed_gradient
import tensorflow as tf

import keras_vis
from keras_vis import engine, steps
from keras_vis.attribution._inputs import resolve_classes, resolved_target
from keras_vis.targets import Class

UNITS = 3
WEIGHTS = ((np.arange(16 * UNITS, dtype=np.float32).reshape(16, UNITS) % 7) - 3.0) / 4.0
BIAS = np.array([0.5, -0.25, 0.0], np.float32)


def dense_model(activation, units=UNITS, separate=False):
    """(4, 4, 1) → Flatten → Dense(units, activation): the logits are `x @ WEIGHTS + BIAS`."""
    inputs = keras.Input((4, 4, 1))
    flat = keras.layers.Flatten()(inputs)
    if separate:
        logits = keras.layers.Dense(units, name="dense")(flat)
        outputs = keras.layers.Softmax()(logits)
    else:
        outputs = keras.layers.Dense(units, activation=activation, name="dense")(flat)
    model = keras.Model(inputs, outputs)
    model.get_layer("dense").set_weights([WEIGHTS[:, :units], BIAS[:units]])
    return model


@pytest.fixture
def images(rng):
    return rng.random((2, 4, 4, 1), dtype=np.float32)


def tape_gradient(images, score):
    """The gradient of `score(logits)` computed by hand from the linear logits, with a tape."""
    x = tf.constant(images.reshape(len(images), -1))
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = score(x @ WEIGHTS + BIAS)
    return tape.gradient(value, x).numpy().reshape(images.shape[:3])


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


@pytest.mark.parametrize("k", range(UNITS))
def test_a_multi_label_sigmoid_label_is_explained_by_its_probability(images, k):
    model = dense_model("sigmoid")
    maps = signed_gradient(model, images, Class(k, logits=False))
    logits = images.reshape(2, -1) @ WEIGHTS + BIAS
    p = sigmoid(logits[:, k])
    by_hand = (p * (1 - p))[:, None, None] * WEIGHTS[:, k].reshape(4, 4)
    np.testing.assert_allclose(maps, by_hand, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(maps, tape_gradient(images, lambda z: tf.sigmoid(z[:, k])),
                               rtol=1e-5, atol=1e-7)
    logit_maps = signed_gradient(model, images, Class(k))
    np.testing.assert_allclose(logit_maps, np.broadcast_to(WEIGHTS[:, k].reshape(4, 4), maps.shape),
                               rtol=1e-6)
    assert not np.allclose(maps, logit_maps)
    scores = engine.run(model, images, Class(k, logits=False)).scores
    np.testing.assert_allclose(scores, p, rtol=1e-5)


@pytest.mark.parametrize("separate", [False, True], ids=["fused", "softmax_layer"])
def test_a_softmax_class_is_explained_by_its_probability(images, separate):
    model = dense_model("softmax", separate=separate)
    maps = signed_gradient(model, images, Class(1, logits=False))
    expected = tape_gradient(images, lambda z: tf.nn.softmax(z)[:, 1])
    np.testing.assert_allclose(maps, expected, rtol=1e-5, atol=1e-7)
    # By hand: dp_1/dx = p_1 (w_1 - sum_j p_j w_j).
    logits = images.reshape(2, -1) @ WEIGHTS + BIAS
    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    by_hand = p[:, 1:2] * (WEIGHTS[:, 1][None] - p @ WEIGHTS.T)
    np.testing.assert_allclose(maps, by_hand.reshape(2, 4, 4), rtol=1e-5, atol=1e-7)
    # The model head scores the probabilities already: the same map.
    np.testing.assert_allclose(signed_gradient(model, images, Class(1), logits=False), maps, rtol=1e-5,
                               atol=1e-7)


def test_negative_binary_labels_are_explained_by_one_minus_p(images):
    model = dense_model("sigmoid", units=1)
    target = Class(0, negative=True, logits=False)
    maps = signed_gradient(model, images, target)
    np.testing.assert_allclose(maps, tape_gradient(images, lambda z: 1 - tf.sigmoid(z[:, 0])),
                               rtol=1e-5, atol=1e-7)
    p = sigmoid(images.reshape(2, -1) @ WEIGHTS[:, 0] + BIAS[0])
    np.testing.assert_allclose(engine.run(model, images, target).scores, 1 - p, rtol=1e-5)
    # The predicted label of a binary classifier, as a probability: the larger of p and 1 - p.
    scores = engine.run(model, images, Class(None, logits=False)).scores
    np.testing.assert_allclose(scores, np.maximum(p, 1 - p), rtol=1e-5)


def test_the_index_stays_data_and_logits_select_the_step(images):
    model = dense_model("sigmoid")
    signed_gradient(model, images, Class(0, logits=False))
    traced = steps.trace_count(model)
    for k in (1, 2, [2, 0]):
        signed_gradient(model, images, Class(k, logits=False))
    assert steps.trace_count(model) == traced
    assert len({Class(0).key(), Class(0, logits=False).key(), Class(0, logits=True).key()}) == 3
    assert Class(0, logits=False).key() == Class(2, logits=False).key()


def test_logits_true_follows_a_logit_method_and_refuses_a_probability_one(images):
    model = dense_model("softmax")
    np.testing.assert_allclose(signed_gradient(model, images, Class(2, logits=True)),
                               signed_gradient(model, images, Class(2)), rtol=1e-6)
    with pytest.raises(ValueError, match=r"ends in a softmax.*pass `logits=True` to the method"):
        keras_vis.occlusion(model, images, Class(2, logits=True), patch=2, stride=2)
    with pytest.raises(ValueError, match="pass `logits=True` to the method"):
        signed_gradient(model, images, Class(None, logits=True), logits=False)
    occluded = keras_vis.occlusion(model, images, Class(2, logits=True), patch=2, stride=2,
                                   logits=True, normalize=False)
    np.testing.assert_allclose(
        occluded, keras_vis.occlusion(model, images, 2, patch=2, stride=2, logits=True,
                                      normalize=False), rtol=1e-6)


def test_an_output_without_squash_scores_the_same_either_way(images):
    model = dense_model(None)
    for logits in (True, False):
        np.testing.assert_allclose(signed_gradient(model, images, Class(1, logits=logits), logits=logits),
                                   signed_gradient(model, images, Class(1)), rtol=1e-6)


def test_probability_targets_on_copies_and_resolved_targets(images):
    model = dense_model("sigmoid")
    target = Class(None, logits=True)
    classes = resolve_classes(model, images, target, batch_size=2)
    logits = images.reshape(2, -1) @ WEIGHTS + BIAS
    np.testing.assert_array_equal(classes, logits.argmax(-1))
    resolved = resolved_target(target, classes)
    assert isinstance(resolved, Class) and resolved.logits is True
    np.testing.assert_array_equal(resolved.index, classes)
    smooth = keras_vis.saliency(model, images, Class(1, logits=False), method="vanilla",
                                smooth_samples=2, smooth_noise=0.0, reduce="sum", normalize=False)
    np.testing.assert_allclose(smooth, signed_gradient(model, images, Class(1, logits=False)), rtol=1e-5,
                               atol=1e-7)


def test_bad_logits_flag_is_a_clear_error():
    with pytest.raises(TypeError, match="Expected `logits` to be None, True or False"):
        Class(0, logits="yes")
