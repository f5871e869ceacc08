"""Known answers for the gradient engine: linear models, rectified ReLUs, the linear head, caching."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers.state import assert_model_unchanged, model_state

from keras_vis import engine, steps
from keras_vis.rules import DECONVNET, GUIDED
from keras_vis.objectives import Channel, Neuron

COMPOSITES = {"standard": None, "guided": GUIDED, "deconvnet": DECONVNET}


def linear_model(shape=(4, 4, 3), classes=5, activation="softmax"):
    inputs = keras.Input(shape)
    flat = keras.layers.Flatten()(inputs)
    outputs = keras.layers.Dense(classes, activation=activation, name="dense")(flat)
    return keras.Model(inputs, outputs)


def test_input_gradient_of_linear_model_is_the_weight_column(rng):
    model = linear_model()
    images = rng.random((3, 4, 4, 3), dtype=np.float32)
    kernel = model.get_layer("dense").kernel.numpy()
    for target in range(5):
        result = engine.run(model, images, target)
        expected = np.broadcast_to(kernel[:, target].reshape(4, 4, 3), images.shape)
        np.testing.assert_allclose(result.input_grads[0], expected, rtol=1e-6, atol=1e-7)


def test_per_image_targets_and_predicted_class(rng):
    model = linear_model()
    images = rng.random((3, 4, 4, 3), dtype=np.float32)
    kernel = model.get_layer("dense").kernel.numpy()
    result = engine.run(model, images, [0, 4, 2])
    for i, target in enumerate([0, 4, 2]):
        np.testing.assert_allclose(result.input_grads[0][i], kernel[:, target].reshape(4, 4, 3), rtol=1e-6)
    predicted = engine.run(model, images, None)
    classes = np.argmax(predicted.outputs[0], axis=1)
    np.testing.assert_allclose(predicted.scores, predicted.outputs[0][np.arange(3), classes], rtol=1e-6)


def relu_model(kind):
    """Identity-weight Dense followed by a ReLU in one of the three ways Keras spells it."""
    inputs = keras.Input((4,))
    identity = keras.initializers.Identity()
    if kind == "fused":
        return keras.Model(inputs, keras.layers.Dense(4, "relu", use_bias=False, kernel_initializer=identity)(inputs))
    dense = keras.layers.Dense(4, use_bias=False, kernel_initializer=identity)(inputs)
    relu = keras.layers.ReLU() if kind == "layer" else keras.layers.Activation("relu")
    return keras.Model(inputs, relu(dense))


# x = [1, -2, 3, 0.5]; h = relu(x) = [1, 0, 3, 0.5]; score = -sum((h - 1.5)^2)
# dscore/dh = -2 (h - 1.5) = [1, 3, -3, 2]
X = np.array([[1.0, -2.0, 3.0, 0.5]], np.float32)
EXPECTED = {
    "standard": [1.0, 0.0, -3.0, 2.0],  # upstream gated by x > 0
    "guided": [1.0, 0.0, 0.0, 2.0],  # ... and by upstream > 0
    "deconvnet": [1.0, 3.0, 0.0, 2.0],  # upstream > 0 only
}


@pytest.mark.parametrize("kind", ["fused", "layer", "activation"])
@pytest.mark.parametrize("policy", sorted(EXPECTED))
def test_relu_gradient_policies_match_hand_derivation(kind, policy):
    model = relu_model(kind)
    before = model_state(model)
    result = engine.run(model, X, lambda h: -tf.reduce_sum((h - 1.5) ** 2, axis=-1), composite=COMPOSITES[policy])
    np.testing.assert_allclose(result.input_grads[0][0], EXPECTED[policy], atol=1e-6)
    np.testing.assert_allclose(result.outputs[0][0], [1.0, 0.0, 3.0, 0.5], atol=1e-6)
    assert_model_unchanged(model, before)


def test_guided_relu_followed_by_negative_square_gives_zero():
    # score = -sum(relu(x)^2): the upstream gradient -2 relu(x) is never positive.
    model = relu_model("fused")
    square = lambda h: -tf.reduce_sum(h**2, axis=-1)  # noqa: E731
    standard = engine.run(model, X, square).input_grads[0][0]
    guided = engine.run(model, X, square, composite=GUIDED).input_grads[0][0]
    np.testing.assert_allclose(standard, [-2.0, 0.0, -6.0, -1.0], atol=1e-6)
    np.testing.assert_allclose(guided, np.zeros(4), atol=1e-6)


def test_relu6_keeps_its_upper_gate_under_guided_policy():
    inputs = keras.Input((3,))
    outputs = keras.layers.ReLU(max_value=6.0)(inputs)
    model = keras.Model(inputs, outputs)
    x = np.array([[-1.0, 2.0, 7.0]], np.float32)
    grads = engine.run(model, x, lambda h: tf.reduce_sum(h, -1), composite=GUIDED).input_grads[0]
    np.testing.assert_allclose(grads[0], [0.0, 1.0, 0.0])


def build_head(kind, weights=None):
    inputs = keras.Input((4, 4, 3))
    x = keras.layers.Conv2D(2, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.Flatten()(x)
    if kind == "fused":
        outputs = keras.layers.Dense(3, activation="softmax", name="logits")(x)
    else:
        outputs = keras.layers.Dense(3, name="logits")(x)
        if kind == "activation":
            outputs = keras.layers.Activation("softmax")(outputs)
        elif kind == "softmax_layer":
            outputs = keras.layers.Softmax()(outputs)
    model = keras.Model(inputs, outputs)
    if weights is not None:
        model.set_weights(weights)
    return model


@pytest.mark.parametrize("kind", ["fused", "activation", "softmax_layer"])
def test_linear_head_equals_model_built_with_linear_output(kind, rng):
    model = build_head(kind)
    reference = build_head("linear", weights=model.get_weights())
    images = rng.random((4, 4, 4, 3), dtype=np.float32)
    swapped = engine.run(model, images, 1)
    plain = engine.run(reference, images, 1, head="model")
    np.testing.assert_allclose(swapped.outputs[0], plain.outputs[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(swapped.input_grads[0], plain.input_grads[0], rtol=1e-5, atol=1e-7)
    probabilities = engine.run(model, images, 1, head="model").outputs[0]
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def nested_transfer_model():
    base = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            keras.layers.Conv2D(4, 3, activation="relu", name="base_conv1"),
            keras.layers.MaxPooling2D(name="base_pool"),
            keras.layers.Conv2D(5, 3, activation="relu", name="base_conv2"),
        ],
        name="base",
    )
    inputs = keras.Input((16, 16, 3))
    x = base(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="head")(x)
    return keras.Sequential([keras.Input((16, 16, 3)), keras.Model(inputs, outputs, name="wrapper")]), base


def test_taps_and_gradients_inside_a_nested_model(rng):
    model, base = nested_transfer_model()
    images = rng.random((2, 16, 16, 3), dtype=np.float32)
    layer = base.get_layer("base_conv2")
    result = engine.run(model, images, Channel("base_conv2", 3), taps=[layer], tap_grads=True)
    reference = keras.Model(base.inputs[0], layer.output)(images).numpy()
    np.testing.assert_allclose(result.activations[0], reference, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result.scores, reference[..., 3].mean(axis=(1, 2)), rtol=1e-5)
    # d mean(A[..., 3]) / dA is 1 / (h w) on channel 3, zero elsewhere.
    expected = np.zeros_like(reference)
    expected[..., 3] = 1.0 / (reference.shape[1] * reference.shape[2])
    np.testing.assert_allclose(result.tap_grads[0], expected, rtol=1e-6)


def test_nested_model_outputs_match_keras_with_linear_head(rng):
    model, _ = nested_transfer_model()
    images = rng.random((2, 16, 16, 3), dtype=np.float32)
    probabilities = engine.run(model, images, 0, head="model", input_grads=False).outputs[0]
    np.testing.assert_allclose(probabilities, model(images).numpy(), rtol=1e-5, atol=1e-6)
    logits = engine.run(model, images, 0).outputs[0]
    np.testing.assert_allclose(keras.ops.softmax(logits).numpy(), probabilities, rtol=1e-5, atol=1e-6)


def test_neuron_target_gradient_is_one_hot_at_its_tap(rng):
    model, base = nested_transfer_model()
    images = rng.random((1, 16, 16, 3), dtype=np.float32)
    layer = base.get_layer("base_conv2")
    result = engine.run(model, images, Neuron(layer, 2, (1, 3)), taps=[layer], tap_grads=True)
    expected = np.zeros_like(result.tap_grads[0])
    expected[0, 1, 3, 2] = 1.0
    np.testing.assert_array_equal(result.tap_grads[0], expected)
    assert result.scores[0] == pytest.approx(result.activations[0][0, 1, 3, 2])


def test_repeated_calls_do_not_retrace(rng):
    model = linear_model()
    images = rng.random((7, 4, 4, 3), dtype=np.float32)
    compiled = engine.get_engine(model, (), 0)
    engine.run(model, images, 0, batch_size=3)  # batches of 3, 3 and 1
    traces = compiled.trace_count
    assert traces == 1
    engine.run(model, images[:5], [1, 2, 3, 4, 0], batch_size=3)
    engine.run(model, images, None, batch_size=4)
    assert compiled.trace_count == traces
    assert engine.get_engine(model, (), 3) is compiled  # class index is data, not a cache key


def test_batching_gives_the_same_answer_as_one_batch(rng):
    model = build_head("fused")
    images = rng.random((10, 4, 4, 3), dtype=np.float32)
    whole = engine.run(model, images, None, batch_size=32)
    chunked = engine.run(model, images, None, batch_size=3)
    np.testing.assert_allclose(whole.input_grads[0], chunked.input_grads[0], rtol=1e-5, atol=1e-7)


def test_error_midway_leaves_model_untouched(rng):
    model = relu_model("fused")
    before = model_state(model)

    def broken(outputs):
        raise RuntimeError("score failed")

    with pytest.raises(RuntimeError, match="score failed"):
        engine.run(model, X, broken, composite=GUIDED)
    assert_model_unchanged(model, before)
    assert model.layers[-1].activation is keras.activations.relu


def test_taps_only_runs_inner_layers_on_another_input_size(rng):
    model, base = nested_transfer_model()
    layer = base.get_layer("base_conv2")
    images = rng.random((2, 24, 30, 3), dtype=np.float32)
    result = engine.run(model, images, Channel(layer, 0), taps=[layer], taps_only=True)
    reference = images
    for inner in base.layers:
        reference = inner(reference)
    reference = reference.numpy()
    assert result.activations[0].shape == (2, 9, 12, 5)  # 24x30 -> conv 22x28 -> pool 11x14 -> conv 9x12
    np.testing.assert_allclose(result.activations[0], reference, rtol=1e-5, atol=1e-6)
    assert result.outputs == []
    assert np.all(np.isfinite(result.input_grads[0]))


def test_class_index_out_of_range_is_a_clear_error(rng):
    model = linear_model()
    images = rng.random((2, 4, 4, 3), dtype=np.float32)
    with pytest.raises(ValueError, match=r"class indices in \[0, 4\]"):
        engine.run(model, images, 5)
    with pytest.raises(ValueError, match="one per image"):
        engine.run(model, images, [1, 2, 3])
    with pytest.raises(TypeError, match="target"):
        engine.run(model, images, "cat")


def test_callable_returning_wrong_shape_is_a_clear_error(rng):
    model = linear_model()
    images = rng.random((2, 4, 4, 3), dtype=np.float32)
    with pytest.raises(ValueError, match=r"one score per image"):
        engine.run(model, images, lambda y: y)


def test_subclassed_model_runs_for_input_gradients_but_not_taps(rng):
    class Linear(keras.Model):
        def __init__(self):
            super().__init__()
            self.flat = keras.layers.Flatten()
            self.dense = keras.layers.Dense(3)

        def call(self, x):
            return self.dense(self.flat(x))

    model = Linear()
    images = rng.random((2, 4, 4, 3), dtype=np.float32)
    model(images)
    with pytest.warns(UserWarning, match="subclassed Linear, whose output layer cannot be read"):
        result = engine.run(model, images, 1)
    kernel = model.dense.kernel.numpy()
    np.testing.assert_allclose(result.input_grads[0][0], kernel[:, 1].reshape(4, 4, 3), rtol=1e-6)
    with pytest.raises(ValueError, match="subclassed"):
        engine.run(model, images, 1, composite=GUIDED)


def _two_layer_model():
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(8, activation="relu", name="hidden")(inputs)
    outputs = keras.layers.Dense(3, activation="relu", name="predictions")(hidden)
    return keras.Model(inputs, outputs)


def test_stale_compiled_step_after_the_user_edits_the_activation(rng):
    model = _two_layer_model()
    images = rng.standard_normal((4, 4)).astype(np.float32)
    engine.run(model, images, 0, head="model")
    model.get_layer("predictions").activation = keras.activations.linear
    result = engine.run(model, images, 0, head="model")
    np.testing.assert_allclose(result.outputs[0], model(images).numpy(), rtol=1e-6)
    kernel = model.get_layer("predictions").kernel.numpy()
    hidden = model.get_layer("hidden")(images).numpy()
    gate = (hidden > 0).astype(np.float32)
    expected = (gate * kernel[:, 0]) @ model.get_layer("hidden").kernel.numpy().T
    np.testing.assert_allclose(result.input_grads[0], expected, rtol=1e-5, atol=1e-6)


def test_stale_compiled_step_after_layers_are_removed_and_added(rng):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(6, activation="relu"),
                              keras.layers.Dense(3)])
    images = rng.standard_normal((2, 4)).astype(np.float32)
    engine.run(model, images, 0)
    model.pop()
    model.add(keras.layers.Dense(2))
    result = engine.run(model, images, 1)
    np.testing.assert_allclose(result.outputs[0], model(images).numpy(), rtol=1e-6)


def test_stale_compiled_step_after_the_weights_are_rebuilt(rng):
    model = _two_layer_model()
    images = rng.standard_normal((2, 4)).astype(np.float32)
    engine.run(model, images, 0, head="model")
    model.quantize("int8")  # new variables and a new call path for each Dense
    result = engine.run(model, images, 0, head="model")
    np.testing.assert_allclose(result.outputs[0], model(images).numpy(), rtol=1e-6)


def test_new_weight_values_reuse_the_compiled_step(rng):
    model = _two_layer_model()
    images = rng.standard_normal((2, 4)).astype(np.float32)
    engine.run(model, images, 0, head="model")
    traced = steps.trace_count(model)
    layer = model.get_layer("predictions")
    layer.kernel.assign(-layer.kernel.numpy())
    result = engine.run(model, images, 0, head="model")
    np.testing.assert_allclose(result.outputs[0], model(images).numpy(), rtol=1e-6)
    assert steps.trace_count(model) == traced


def test_stale_compiled_step_is_rebuilt_for_public_functions(tiny_cnn, rng):
    import keras_vis

    images = rng.random((2, 16, 16, 3), dtype=np.float32)
    keras_vis.saliency(tiny_cnn, images, 1, logits=False)
    tiny_cnn.get_layer("predictions").activation = keras.activations.linear
    maps = keras_vis.saliency(tiny_cnn, images, 1, logits=False, normalize=False, reduce="sum")
    tensor = tf.constant(images)
    with tf.GradientTape() as tape:
        tape.watch(tensor)
        score = tiny_cnn(tensor)[:, 1]
    np.testing.assert_allclose(maps, tape.gradient(score, tensor).numpy().sum(-1), rtol=1e-4,
                               atol=1e-6)
