"""Known answers for DeepLIFT's rescale rule: the hand-derived multipliers of a one-hidden-layer
network, summation-to-delta on convolutional networks, and the errors for what no rule covers."""

import keras
import numpy as np
from helpers import models
import pytest
from helpers.state import assert_model_unchanged, model_state

import keras_vis
from keras_vis import rules

SHAPE = (4, 4, 3)


def mlp():
    """Flatten → Dense(6, relu) → Dense(3, softmax)."""
    return models.dense_classifier(SHAPE, 3, hidden=6)


def mlp_reference(model, image, baseline, target):
    """`(x_i - x0_i) · sum_j W1_ij m_j W2_jc` with `m_j = Δrelu(h_j) / Δh_j` (the ReLU's
    gradient where `Δh_j = 0`), per input value."""
    w1, b1 = [w.astype(np.float64) for w in model.get_layer("hidden").get_weights()]
    w2 = model.get_layer("dense").get_weights()[0].astype(np.float64)
    x, x0 = image.reshape(-1).astype(np.float64), baseline.reshape(-1).astype(np.float64)
    h, h0 = x @ w1 + b1, x0 @ w1 + b1
    delta = h - h0
    flat = np.abs(delta) < 1e-6
    multiplier = np.where(flat, (h > 0).astype(float),
                          (np.maximum(h, 0) - np.maximum(h0, 0)) / np.where(flat, 1.0, delta))
    return ((x - x0) * (w1 @ (multiplier * w2[:, target]))).reshape(SHAPE)


def test_rescale_multipliers_of_one_hidden_layer(rng):
    model = mlp()
    w1, b1 = model.get_layer("hidden").get_weights()
    b1[:2] = [1.5, -1.5]  # unit 0 stays active, unit 1 stays off where their input is unchanged
    model.get_layer("hidden").set_weights([w1, b1])
    images = rng.normal(size=(3,) + SHAPE).astype(np.float32)
    baselines = rng.normal(size=(3,) + SHAPE).astype(np.float32)
    # Image 0 differs from its baseline only orthogonally to the weights of units 0 and 1: their
    # multiplier is the gradient (1 and 0), not a ratio of differences.
    basis = w1[:, :2].astype(np.float64)
    delta = images[0].reshape(-1) - baselines[0].reshape(-1)
    delta = delta - basis @ np.linalg.lstsq(basis, delta, rcond=None)[0]
    baselines[0] = (images[0].reshape(-1) - delta).reshape(SHAPE)
    targets = [0, 2, 1]
    before = model_state(model)
    signed = keras_vis.deeplift(model, images, targets, baseline=baselines, normalize=False,
                                batch_size=2)
    absolute = keras_vis.deeplift(model, images, targets, baseline=baselines, normalize=False,
                                  reduce="abs_sum", batch_size=2)
    want = np.stack([mlp_reference(model, x, x0, t)
                     for x, x0, t in zip(images, baselines, targets)])
    scale = np.abs(want).max()
    np.testing.assert_allclose(signed, want.sum(-1), rtol=1e-5, atol=1e-5 * scale)
    np.testing.assert_allclose(absolute, np.abs(want).sum(-1), rtol=1e-5, atol=1e-5 * scale)
    delta = models.logits_of(model, images) - models.logits_of(model, baselines)
    np.testing.assert_allclose(signed.sum((1, 2)), delta[np.arange(3), targets], rtol=1e-5)
    assert_model_unchanged(model, before)


def test_flat_unit_uses_its_gradient_not_zero(rng):
    """The multiplier where `Δh = 0` matters per pixel, though it sums to nothing."""
    model = mlp()
    w1, b1 = model.get_layer("hidden").get_weights()
    b1[0] = 2.0
    model.get_layer("hidden").set_weights([w1, b1])
    image = rng.normal(size=(1,) + SHAPE).astype(np.float32)
    delta = rng.normal(size=w1.shape[0])
    delta -= w1[:, 0] * (delta @ w1[:, 0]) / (w1[:, 0] @ w1[:, 0])
    baseline = (image.reshape(-1) - delta).reshape((1,) + SHAPE).astype(np.float32)
    assert image.reshape(-1) @ w1[:, 0] + b1[0] > 0  # the unit's gradient is 1
    got = keras_vis.deeplift(model, image, 1, baseline=baseline, normalize=False)
    want = mlp_reference(model, image[0], baseline[0], 1).sum(-1)
    np.testing.assert_allclose(got[0], want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    # With the unit's multiplier 0 instead (its zero-difference ratio), the map differs.
    w2 = model.get_layer("dense").get_weights()[0]
    unit = (delta * w1[:, 0] * w2[0, 1]).reshape(SHAPE).sum(-1)
    assert np.abs(unit).max() > 0.05 * np.abs(want).max()


def conv_net():
    """conv(relu) → conv(relu) + skip → BN → average pooling → conv(relu) → GAP → Dense."""
    init = dict(bias_initializer="random_normal")
    inputs = keras.Input((8, 8, 3))
    a = keras.layers.Conv2D(4, 3, padding="same", activation="relu", **init)(inputs)
    b = keras.layers.Conv2D(4, 3, padding="same", activation="relu", **init)(a)
    x = keras.layers.Add()([a, b])
    bn = keras.layers.BatchNormalization()
    x = bn(x)
    x = keras.layers.AveragePooling2D(2)(x)
    x = keras.layers.Conv2D(5, 3, activation="relu", **init)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="dense", **init)(x)
    return keras.Model(inputs, outputs), bn


@pytest.mark.parametrize("baseline", ["number", "image", "batch"])
def test_summation_to_delta_on_a_conv_net(baseline, rng):
    model, bn = conv_net()
    bn.set_weights([rng.uniform(0.5, 2.0, 4), rng.normal(0, 0.5, 4), rng.normal(0, 0.5, 4),
                    rng.uniform(0.3, 3.0, 4)])
    images = rng.random((3, 8, 8, 3), dtype=np.float32)
    reference = {"number": 0.5, "image": rng.random((8, 8, 3), dtype=np.float32),
                 "batch": rng.random((3, 8, 8, 3), dtype=np.float32)}[baseline]
    targets = [2, 0, 1]
    maps = keras_vis.deeplift(model, images, targets, baseline=reference, normalize=False)
    references = np.broadcast_to(np.asarray(reference, np.float32), images.shape)
    delta = models.logits_of(model, images) - models.logits_of(model, references)
    assert np.all(np.abs(delta[np.arange(3), targets]) > 1e-3)
    np.testing.assert_allclose(maps.sum((1, 2)), delta[np.arange(3), targets], rtol=1e-5,
                               atol=1e-7)


def test_summation_to_delta_of_a_sigmoid_output(rng):
    """With `logits=False`, the sigmoid's multiplier carries the probability's difference."""
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu", bias_initializer="random_normal")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(2, activation="sigmoid", bias_initializer="random_normal")(x)
    model = keras.Model(inputs, outputs)
    images = 4.0 * rng.random((2, 8, 8, 3), dtype=np.float32)
    maps = keras_vis.deeplift(model, images, [0, 1], baseline=0.0, logits=False, normalize=False)
    probabilities = model.predict(images, verbose=0)
    reference = model.predict(np.zeros_like(images), verbose=0)
    delta = probabilities[[0, 1], [0, 1]] - reference[[0, 1], [0, 1]]
    np.testing.assert_allclose(maps.sum((1, 2)), delta, rtol=1e-4, atol=1e-7)


def test_layer_no_rule_covers_is_named():
    with pytest.raises(ValueError, match="doubling"):
        keras_vis.deeplift(models.cnn_with_unknown_layer(), models.images(1))


def test_subclassed_model_is_refused():
    with pytest.raises(ValueError, match="subclassed"):
        keras_vis.deeplift(models.subclassed_cnn(), models.images(1))


def test_baseline_that_does_not_broadcast_is_refused(rng):
    model = mlp()
    images = rng.random((2,) + SHAPE, dtype=np.float32)
    with pytest.raises(ValueError, match="baseline"):
        keras_vis.deeplift(model, images, baseline=np.zeros((3, 3, 3), np.float32))


def operations_net():
    """Operations where layers would do, and the layers `keras.applications` define themselves:
    `preprocess_input`'s `x / 127.5 - 1`, a residual `a + b`, ConvNeXt's `LayerScale`,
    MobileNetV3's hard swish (`x + 3`, ReLU6, `* (1 / 6)`, a `Multiply` of a map and its own
    gate), `keras.ops.relu`, a bilinear upsampling and InceptionResNetV2's scaled sum."""
    (layer_scale,) = rules.kinds.CHANNEL_SCALES
    (scaled_sum,) = rules.kinds.WEIGHTED_SUMS
    init = dict(bias_initializer="random_normal")
    inputs = keras.Input((8, 8, 3))
    x = inputs / 127.5 - 1.0
    a = keras.layers.Conv2D(4, 3, padding="same", activation="relu", **init)(x)
    b = layer_scale(0.7, 4)(keras.layers.Conv2D(4, 3, padding="same", **init)(a))
    x = keras.ops.relu(a + b)
    gate = keras.layers.ReLU(6.0)(x + 3.0) * (1.0 / 6.0)
    x = keras.layers.Multiply()([x, gate])
    x = keras.layers.UpSampling2D(interpolation="bilinear")(x)
    y = keras.layers.Conv2D(4, 3, padding="same", activation="relu", **init)(x)
    x = scaled_sum(0.3)([x, y])
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(3, **init)(x))


def test_summation_to_delta_through_operations_and_application_layers(rng):
    model = operations_net()
    images = rng.uniform(0, 255, (3, 8, 8, 3)).astype(np.float32)
    targets = [2, 0, 1]
    maps = keras_vis.deeplift(model, images, targets, baseline=127.5, normalize=False)
    logits = model.predict(images, verbose=0)[np.arange(3), targets]
    reference = model.predict(np.full_like(images, 127.5), verbose=0)[np.arange(3), targets]
    np.testing.assert_allclose(maps.sum((1, 2)), logits - reference, rtol=1e-4, atol=1e-5)


def test_a_layer_said_to_be_elementwise_is_rescaled():
    """`Lambda(x * 2)` refused, then covered by name: it is linear, so summation-to-delta is
    exact."""
    model = models.lambda_cnn()
    images = models.images(2)
    with pytest.raises(ValueError, match="rules=\\{'double': 'elementwise'\\}"):
        keras_vis.deeplift(model, images)
    maps = keras_vis.deeplift(model, images, [0, 1], rules={"double": "elementwise"},
                              normalize=False)
    head = model.get_layer("predictions")
    features = keras.Model(model.inputs, head.input)
    kernel, bias = head.get_weights()
    delta = (features.predict(images, verbose=0) - features.predict(np.zeros_like(images),
                                                                    verbose=0)) @ kernel
    np.testing.assert_allclose(maps.sum((1, 2)), delta[[0, 1], [0, 1]], rtol=1e-4, atol=1e-6)
