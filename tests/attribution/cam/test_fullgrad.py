"""FullGrad: the input-gradient × input term plus one bias-gradient term per biased layer.

The reference here is written from the definition with a plain `tf.GradientTape` over the test's
own forward function, which records every pre-activation `z` of a biased layer; each term is
post-processed as in the authors' code (absolute value, min-max per image over positions and
channels, summed over channels, bilinearly resized), and the terms are added.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers.state import assert_model_unchanged, model_state

from keras_vis import steps
from keras_vis.attribution._maps import normalize as normalize_maps
from keras_vis.attribution.cam.fullgrad import FullGrad, bias_layers
from keras_vis.graph import GraphRunner

L = keras.layers


def post(values, size):
    magnitude = np.abs(values)
    low = magnitude.min(axis=(1, 2, 3), keepdims=True)
    span = magnitude.max(axis=(1, 2, 3), keepdims=True) - low
    scaled = np.divide(magnitude - low, span, out=np.zeros_like(magnitude), where=span > 0)
    summed = scaled.sum(axis=-1)
    return tf.image.resize(summed[..., None], size, method="bilinear").numpy()[..., 0]


def reference(forward, images, classes):
    """`forward(x)` returns `(logits, [(z, bias), ...])` for every biased layer."""
    x = tf.constant(images)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        logits, terms = forward(x)
        score = tf.gather(logits, classes, axis=1, batch_dims=1)
    size = images.shape[1:3]
    maps = post(tape.gradient(score, x).numpy() * images, size)
    for z, bias in terms:
        maps += post(tape.gradient(score, z).numpy() * bias, size)
    return maps


def bn_bias(bn):
    gamma, beta, mean, variance = (w.numpy() for w in bn.weights)
    return beta - mean * gamma / np.sqrt(variance + bn.epsilon)


class Separate:
    """Biased convolutions of every kind, batch normalization, a dense layer on a feature map
    (a 1×1 convolution) and one on flat features (no spatial bias gradient: left out), separate
    ReLU layers."""

    def __init__(self):
        self.conv = L.Conv2D(4, 3, padding="same", bias_initializer="random_normal", name="conv")
        self.bn = L.BatchNormalization(name="bn")
        self.depthwise = L.DepthwiseConv2D(3, padding="same", bias_initializer="random_normal",
                                           name="depthwise")
        self.pool = L.MaxPooling2D(name="pool")
        self.separable = L.SeparableConv2D(5, 3, padding="same",
                                           bias_initializer="random_normal", name="separable")
        self.transpose = L.Conv2DTranspose(3, 3, strides=2, padding="same",
                                           bias_initializer="random_normal", name="transpose")
        self.pointwise = L.Dense(4, bias_initializer="random_normal", name="pointwise")
        self.gap = L.GlobalAveragePooling2D()
        self.dense = L.Dense(3, activation="softmax", bias_initializer="ones", name="dense")

    def model(self):
        inputs = keras.Input((8, 8, 3))
        model = keras.Model(inputs, self.forward(inputs, keras_graph=True))
        rng = np.random.default_rng(2)
        self.bn.set_weights([rng.uniform(0.5, 1.5, 4), rng.normal(0, 0.3, 4),
                             rng.normal(0, 0.3, 4), rng.uniform(0.5, 2.0, 4)])
        return model

    def forward(self, x, keras_graph=False):
        relu = L.ReLU() if keras_graph else tf.nn.relu
        terms = []

        def biased(layer, value):
            z = layer(value) if layer is not self.bn else layer(value, training=False)
            if not keras_graph:
                terms.append((z, bn_bias(layer) if layer is self.bn else layer.bias.numpy()))
            return z

        a = relu(biased(self.bn, biased(self.conv, x)))
        a = self.pool(relu(biased(self.depthwise, a)))
        a = relu(biased(self.transpose, relu(biased(self.separable, a))))
        pooled = self.gap(relu(biased(self.pointwise, a)))
        if keras_graph:
            return self.dense(pooled)
        return pooled @ self.dense.kernel + self.dense.bias, terms


def test_a_model_with_biases_equals_the_naive_reference(rng):
    net = Separate()
    model = net.model()
    assert [layer.name for layer in bias_layers(model)] == [
        "conv", "bn", "depthwise", "separable", "transpose", "pointwise"]
    images = rng.normal(size=(3, 8, 8, 3)).astype(np.float32)
    classes = np.array([2, 0, 1], np.int32)
    expected = reference(net.forward, images, classes)
    input_term = reference(lambda x: (net.forward(x)[0], []), images, classes)
    assert np.abs(expected - input_term).max() > 1  # the bias terms count
    before = model_state(model)
    raw = FullGrad()(model, images, classes, normalize=False, batch_size=2)
    assert raw.dtype == np.float32 and raw.shape == (3, 8, 8)
    np.testing.assert_allclose(raw, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(FullGrad()(model, images, classes), normalize_maps(expected),
                               rtol=1e-4, atol=1e-5)
    assert_model_unchanged(model, before)


def test_a_bias_free_model_gives_the_post_processed_gradient_times_input(rng):
    inputs = keras.Input((8, 8, 3))
    x = L.Conv2D(4, 3, padding="same", activation="relu", use_bias=False)(inputs)
    x = L.Conv2D(4, 3, padding="same", activation="relu", use_bias=False)(x)
    model = keras.Model(inputs, L.Dense(3, bias_initializer="ones")(L.Flatten()(x)))
    assert bias_layers(model) == []
    images = rng.normal(size=(2, 8, 8, 3)).astype(np.float32)
    x = tf.constant(images)
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = tf.gather(model(x), [1, 2], axis=1, batch_dims=1)
    expected = post(tape.gradient(score, x).numpy() * images, (8, 8))
    np.testing.assert_allclose(FullGrad()(model, images, [1, 2], normalize=False), expected,
                               rtol=1e-4, atol=1e-6)


def test_a_fused_activation_gives_the_map_of_a_separate_one(rng):
    def build(fused):
        inputs = keras.Input((8, 8, 3))
        x = inputs
        for filters in (4, 5):
            x = L.Conv2D(filters, 3, padding="same", activation="relu" if fused else None,
                         bias_initializer="random_normal")(x)
            x = x if fused else L.ReLU()(x)
        return keras.Model(inputs, L.Dense(3, activation="softmax")(L.GlobalAveragePooling2D()(x)))

    fused, separate = build(True), build(False)
    separate.set_weights(fused.get_weights())
    images = rng.normal(size=(2, 8, 8, 3)).astype(np.float32)
    np.testing.assert_allclose(FullGrad()(fused, images, normalize=False),
                               FullGrad()(separate, images, normalize=False), rtol=1e-5,
                               atol=1e-6)


def test_a_base_nested_in_a_transfer_model_gives_the_flat_model_s_map(rng):
    net = Separate()
    flat = net.model()
    base = keras.Model(flat.inputs[0], flat.get_layer("pointwise").output, name="base")
    nested = keras.Sequential([keras.Input((8, 8, 3)), base, L.Activation("relu"),
                               L.GlobalAveragePooling2D(), net.dense])
    images = rng.normal(size=(2, 8, 8, 3)).astype(np.float32)
    # The base ends in the pointwise layer's pre-activation; the nested model's ReLU
    # follows it, so both models compute the same function.
    np.testing.assert_allclose(FullGrad()(nested, images, [0, 1], normalize=False),
                               FullGrad()(flat, images, [0, 1], normalize=False), rtol=1e-4,
                               atol=1e-5)


def test_linear_taps_record_the_pre_activation():
    inputs = keras.Input((4, 4, 1))
    conv = L.Conv2D(2, 1, activation="relu", kernel_initializer="ones",
                    bias_initializer=keras.initializers.Constant(-1.0))
    model = keras.Model(inputs, conv(inputs))
    x = tf.constant(np.linspace(0, 2, 16, dtype=np.float32).reshape(1, 4, 4, 1))
    outputs, [output, linear] = GraphRunner(model, [conv], head="model", linear_taps=[conv])([x])
    np.testing.assert_allclose(linear.numpy(), np.repeat(x.numpy() - 1.0, 2, axis=-1))
    np.testing.assert_allclose(output.numpy(), np.maximum(linear.numpy(), 0))


def test_one_trace_whatever_the_classes_and_batch(rng):
    net = Separate()
    model = net.model()
    images = rng.normal(size=(5, 8, 8, 3)).astype(np.float32)
    first = FullGrad()(model, images, [0, 1, 2, 0, 1], batch_size=2)
    assert steps.trace_count(model, "fullgrad") == 1
    np.testing.assert_allclose(FullGrad()(model, images, [0, 1, 2, 0, 1], batch_size=5), first,
                               rtol=1e-5, atol=1e-6)
    FullGrad()(model, images[:3])
    assert steps.trace_count(model, "fullgrad") == 1


def test_errors(tiny_cnn):
    images = np.zeros((1, 16, 16, 3), np.float32)
    with pytest.raises(ValueError, match="Expected `layer` to be None for method='fullgrad'"):
        FullGrad()(tiny_cnn, images, layer="conv2")
    with pytest.raises(ValueError, match="Expected `eigen_smooth` to be False"):
        FullGrad()(tiny_cnn, images, eigen_smooth=True)
    assert FullGrad.supports_eigen_smooth is False

    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = L.Dense(2)

        def call(self, x):
            return self.dense(L.Flatten()(x))

    subclassed = Subclassed()
    subclassed(images)
    with pytest.raises(ValueError, match="functional or sequential"):
        FullGrad()(subclassed, images)


def test_cam_takes_the_method(tiny_cnn, rng):
    from keras_vis.attribution import cam

    images = rng.random((2, 16, 16, 3), dtype=np.float32)
    np.testing.assert_allclose(cam(tiny_cnn, images, [0, 1], method="fullgrad"),
                               FullGrad()(tiny_cnn, images, [0, 1]))
