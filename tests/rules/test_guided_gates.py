"""Guided backprop and deconvnet rectify every gating activation (swish, GELU, ELU, ...), not only
the ReLU family, and refuse a model that has none instead of returning its plain gradient."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_vis import engine
from keras_vis.attribution import gradcam, guided_gradcam, saliency
from keras_vis.report import Settings, make_subject, techniques
from keras_vis.rules import RECTIFIERS, RELU, Composite, NoRuleMatches, Rule, with_backward
from keras_vis.rules.base import recorded

SIZE = 6


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _swish_derivative(z):
    s = _sigmoid(z)
    return s * (1.0 + z * (1.0 - s))


def _gelu_derivative(z):
    # Keras' default GELU is the exact one, x * Phi(x).
    cdf = 0.5 * (1.0 + np.vectorize(math.erf)(z / math.sqrt(2.0)))
    pdf = np.exp(-0.5 * z**2) / math.sqrt(2.0 * math.pi)
    return cdf + z * pdf


DERIVATIVES = {"swish": _swish_derivative, "gelu": _gelu_derivative}


def gated_model(activation, fused, seed=0):
    """6×6×2 → 3×3 conv (`activation`, fused or an `Activation` layer) → flatten → dense(3)."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((SIZE, SIZE, 2))
    conv = keras.layers.Conv2D(3, 3, padding="same", activation=activation if fused else None,
                               bias_initializer="random_normal", name="conv")
    x = conv(inputs)
    if not fused:
        x = keras.layers.Activation(activation, name="gate")(x)
    outputs = keras.layers.Dense(3, name="dense")(keras.layers.Flatten()(x))
    return keras.Model(inputs, outputs)


def naive_maps(model, images, target, activation, method):
    """The rules written out by hand: the dense layer's weight column is the upstream gradient `u`
    at the activation's output; the activation maps it to `g` at its input `z`, and the
    convolution's transpose carries `g` to the pixels (summed over colour channels)."""
    conv, dense = model.get_layer("conv"), model.get_layer("dense")
    x = tf.constant(images)
    with tf.GradientTape() as tape:
        tape.watch(x)
        z = tf.nn.conv2d(x, conv.kernel, 1, "SAME") + conv.bias
    u = np.broadcast_to(dense.kernel.numpy()[:, target].reshape(z.shape[1:]), z.shape)
    z_values = z.numpy()
    derivative = DERIVATIVES[activation](z_values)
    local = {
        "vanilla": derivative * u,
        "guided": derivative * np.maximum(u, 0.0) * (z_values > 0),
        "deconvnet": np.maximum(u, 0.0),
    }[method]
    pixel_grads = tape.gradient(z, x, output_gradients=tf.constant(local, tf.float32))
    return pixel_grads.numpy().sum(-1)


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "layer"])
@pytest.mark.parametrize("activation", ["swish", "gelu"])
def test_guided_and_deconvnet_on_swish_and_gelu_match_the_rule_not_vanilla(activation, fused, rng):
    model = gated_model(activation, fused)
    images = rng.normal(size=(3, SIZE, SIZE, 2)).astype(np.float32)
    maps = {}
    for method in ("vanilla", "guided", "deconvnet"):
        maps[method] = saliency(model, images, 1, method=method, reduce="sum", normalize=False)
        np.testing.assert_allclose(maps[method], naive_maps(model, images, 1, activation, method),
                                   rtol=1e-4, atol=1e-5, err_msg=method)
    for method in ("guided", "deconvnet"):
        assert not np.allclose(maps[method], maps["vanilla"], rtol=1e-3, atol=1e-4), method
    assert not np.allclose(maps["guided"], maps["deconvnet"], rtol=1e-3, atol=1e-4)


def _derivative_of(function, x):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = function(x)
    return tape.gradient(y, x).numpy()


def _activation_layer(spelling):
    if isinstance(spelling, str):
        return keras.layers.Activation(spelling)
    return spelling()


# Every spelling of a rectifier: activation names (also the aliases that resolve to another
# `__name__`, such as "swish" to `silu`), TensorFlow's functions and the rectifier layers.
SPELLINGS = sorted(RECTIFIERS - {"prelu"}) + [
    lambda: keras.layers.Activation(tf.nn.silu), lambda: keras.layers.Activation(tf.nn.gelu),
    keras.layers.ReLU, lambda: keras.layers.ReLU(max_value=6.0),
    lambda: keras.layers.ReLU(negative_slope=0.1), lambda: keras.layers.LeakyReLU(0.2),
    keras.layers.ELU,
    lambda: keras.layers.PReLU(alpha_initializer=keras.initializers.Constant(0.25)),
]
SPELLING_IDS = [s if isinstance(s, str) else f"layer{i}" for i, s in enumerate(SPELLINGS)]


@pytest.mark.parametrize("spelling", SPELLINGS, ids=SPELLING_IDS)
def test_guided_and_deconvnet_rectify_every_spelling_of_a_gating_activation(spelling):
    # score = c · f(x), so the upstream gradient at f is c: positive, negative, positive, ...
    x = np.array([[1.0, -2.0, 3.0, 0.5, -0.3, 4.0]], np.float32)
    c = np.array([1.0, 1.0, -1.0, 2.0, 1.0, 0.5], np.float32)
    inputs = keras.Input((6,))
    layer = _activation_layer(spelling)
    model = keras.Model(inputs, layer(keras.layers.Identity()(inputs)))
    score = lambda h: tf.reduce_sum(h * c, axis=-1)  # noqa: E731
    derivative = _derivative_of(layer, x)
    got = {method: engine.run(model, x, score, composite=composite).input_grads[0]
           for method, composite in (("guided", saliency_composite("guided")),
                                     ("deconvnet", saliency_composite("deconvnet")))}
    np.testing.assert_allclose(got["guided"], derivative * np.maximum(c, 0) * (x > 0), atol=1e-6)
    np.testing.assert_allclose(got["deconvnet"], np.broadcast_to(np.maximum(c, 0), x.shape),
                               atol=1e-6)


def saliency_composite(method):
    from keras_vis.attribution.saliency import COMPOSITES

    return COMPOSITES[method]


class _ReluGuided(Rule):
    """Guided backprop as it stood for the ReLU family: the tape's gradient of relu(upstream)."""

    def __call__(self, forward, inputs, site):
        (x,) = inputs
        tape, y = recorded(forward, inputs)
        return with_backward(
            [x], y, lambda upstream: [tape.gradient(y, x, output_gradients=tf.nn.relu(upstream))])


def test_guided_on_relu_models_is_bit_identical_to_the_relu_rule(rng):
    keras.utils.set_random_seed(1)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.ReLU(max_value=6.0)(keras.layers.Conv2D(4, 3, padding="same")(x))
    x = keras.layers.Activation("relu")(keras.layers.Conv2D(5, 3, padding="same")(x))
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
    images = rng.normal(size=(4, 8, 8, 3)).astype(np.float32)
    relu_rule = Composite([(RELU, _ReluGuided())], name="relu guided")
    want = engine.run(model, images, 2, composite=relu_rule).input_grads[0]
    got = engine.run(model, images, 2, composite=saliency_composite("guided")).input_grads[0]
    np.testing.assert_array_equal(got, want)


def gated_cnn(activation="swish"):
    """12×12×3 → conv(swish) → pool → conv(swish) → GAP → Dense(3, softmax)."""
    keras.utils.set_random_seed(2)
    inputs = keras.Input((12, 12, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation=activation, name="conv1",
                            bias_initializer="random_normal")(inputs)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(5, 3, padding="same", activation=activation, name="conv2",
                            bias_initializer="random_normal")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="gated_cnn")


def test_guided_gradcam_on_a_swish_model_is_not_vanilla_times_gradcam(rng):
    model = gated_cnn()
    images = rng.normal(size=(3, 12, 12, 3)).astype(np.float32)
    coarse = gradcam(model, images, [0, 1, 2], normalize=False)
    vanilla = saliency(model, images, [0, 1, 2], normalize=False)
    guided = saliency(model, images, [0, 1, 2], method="guided", normalize=False)
    raw = guided_gradcam(model, images, [0, 1, 2], normalize=False)
    np.testing.assert_allclose(raw, guided * coarse, rtol=1e-5, atol=1e-9)
    assert not np.allclose(raw, vanilla * coarse, rtol=1e-3, atol=1e-6)


def squashing_model():
    """Only tanh and sigmoid between the input and the softmax head."""
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Conv2D(2, 3, padding="same", activation="tanh", name="conv")(inputs)
    x = keras.layers.Activation("sigmoid")(keras.layers.Dense(4)(keras.layers.Flatten()(x)))
    outputs = keras.layers.Dense(2, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="squashed")


REFUSED = {
    "guided": lambda m, x: saliency(m, x, method="guided"),
    "deconvnet": lambda m, x: saliency(m, x, method="deconvnet"),
    "smoothgrad guided": lambda m, x: saliency(m, x, method="guided", smooth_samples=2, seed=0),
    "guided_gradcam": lambda m, x: guided_gradcam(m, x, layer="conv"),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_model_without_gating_activations_is_refused_for_guided_and_deconvnet(name):
    model = squashing_model()
    images = np.zeros((1, SIZE, SIZE, 3), np.float32)
    with pytest.raises(NoRuleMatches, match=r"Expected model 'squashed' to have at least one "
                                            r"layer or activation that composite '\w+' gives a "
                                            r"backward rule to: an activation named .*'gelu'.*"
                                            r"'relu'.*'silu'.*Received: .*activations are "
                                            r"\['tanh', 'sigmoid', 'softmax'\].*plain gradient"):
        REFUSED[name](model, images)
    assert saliency(model, images, 0, normalize=False).shape == (1, SIZE, SIZE)


def test_a_linear_model_is_refused_for_guided_and_deconvnet():
    inputs = keras.Input((SIZE, SIZE, 3))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(inputs)))
    images = np.zeros((1, SIZE, SIZE, 3), np.float32)
    for method in ("guided", "deconvnet"):
        with pytest.raises(ValueError, match=r"Received: a model whose layers compute no "
                                             r"activation.*method='vanilla'"):
            saliency(model, images, method=method)


def test_gating_activations_inside_a_nested_model_count():
    base_inputs = keras.Input((SIZE, SIZE, 3))
    base_out = keras.layers.Conv2D(3, 3, padding="same", activation="gelu")(base_inputs)
    base = keras.Model(base_inputs, base_out, name="base")
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.GlobalAveragePooling2D()(base(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="tanh")(x))
    images = np.random.default_rng(0).normal(size=(2, SIZE, SIZE, 3)).astype(np.float32)
    guided = saliency(model, images, 0, method="guided", normalize=False)
    assert not np.allclose(guided, saliency(model, images, 0, normalize=False))


def test_report_skips_guided_methods_with_a_note_on_a_model_without_gates():
    settings = Settings(display_size=SIZE * 2, progress=False)
    subject = make_subject(squashing_model(), np.zeros((1, SIZE, SIZE, 3), np.uint8))
    names = ["vanilla", "guided", "deconvnet", "guided_gradcam"]
    pictures, skipped = techniques.attribution_pictures(subject, settings, None, names)
    assert [p.title for p in pictures] == ["Gradient"]
    assert [title for title, _ in skipped] == ["Guided backprop", "Deconvnet backprop",
                                               "Guided Grad-CAM"]
    assert all("gives a backward rule to" in reason for _, reason in skipped)


APPLICATIONS = {
    "EfficientNetB0": ({"silu"}, {"sigmoid"}),
    "ConvNeXtTiny": ({"gelu"}, set()),
    "MobileNetV3Small": ({"hard_silu", "relu"}, set()),
}


@pytest.mark.applications
@pytest.mark.parametrize("name", sorted(APPLICATIONS))
def test_guided_plan_of_an_application_rectifies_its_gates_and_not_its_squashes(name):
    from keras_vis.graph import activation_name
    from keras_vis.layers import iter_layers
    from keras_vis.rules import Guided

    model = getattr(keras.applications, name)(weights=None, input_shape=(32, 32, 3), classes=3)
    plan = saliency_composite("guided").plan(model, linear_head=True)
    gates, squashes = APPLICATIONS[name]
    rectified, plain = set(), set()
    for layer in iter_layers(model):
        assigned, activation = plan.get(layer), activation_name(layer)
        if activation is not None:
            got = assigned is not None and isinstance(assigned.activation_rule, Guided)
            (rectified if got else plain).add(activation)
    assert rectified == gates
    assert plain == squashes | {"softmax"}


@pytest.mark.applications
@pytest.mark.slow
def test_efficientnet_guided_backprop_differs_from_vanilla_and_is_finite(rng):
    model = keras.applications.EfficientNetB0(weights=None, input_shape=(32, 32, 3), classes=3)
    images = rng.uniform(0, 255, (1, 32, 32, 3)).astype(np.float32)
    vanilla = saliency(model, images, 0, normalize=False)
    guided = saliency(model, images, 0, method="guided", normalize=False)
    assert np.all(np.isfinite(guided)) and np.any(guided > 0)
    assert not np.allclose(guided, vanilla, rtol=1e-3, atol=1e-9)
