"""Models beyond the simple case: mixed precision, several outputs or inputs, a base nested two
levels deep, BatchNorm and Dropout, and a subclassed model.

Each unusual model is checked against a plain twin holding the same weights, or against a gradient
taken by hand with `tf.GradientTape`, so the answers are known, not just finite.
"""

import contextlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_vis import engine
from keras_vis.attribution import (cam, gradcam, gradient_input, guided_gradcam,
                                   integrated_gradients, occlusion, saliency)
from keras_vis.deconv import deconvnet, receptive_field, top_activations
from keras_vis.inspect import feature_maps
from keras_vis.layers import find_layer, last_conv_layer
from keras_vis.maximization import maximize, objectives
from keras_vis.targets import Class
from helpers.models import (
    bn_dropout_cnn,
    flat_twin,
    functional_twin,
    images,
    mixed_precision_cnn,
    multi_input_cnn,
    multi_output_cnn,
    nested_cnn,
    single_head_twin,
    subclassed_cnn,
)


@contextlib.contextmanager
def global_policy(name):
    """Sets Keras' global dtype policy for the block, and always restores the previous one."""
    previous = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


@pytest.fixture(autouse=True)
def _policy_left_as_found():
    yield
    assert keras.mixed_precision.global_policy().name == "float32"


def max_abs_over_channels(gradients):
    return np.abs(np.asarray(gradients)).max(axis=-1)


# --- mixed precision


@pytest.fixture
def mixed_and_reference():
    """A `mixed_float16` model and its float32 twin with the same weights."""
    reference = mixed_precision_cnn()
    with global_policy("mixed_float16"):
        mixed = mixed_precision_cnn()
    mixed.set_weights(reference.get_weights())
    assert mixed.get_layer("conv1").compute_dtype == "float16"
    assert mixed.get_layer("predictions").compute_dtype == "float32"
    return mixed, reference


@pytest.mark.parametrize("method", ["saliency", "gradcam", "occlusion", "deconvnet"])
def test_mixed_float16_maps_are_finite_float32_and_match_the_float32_model(mixed_and_reference,
                                                                          method):
    mixed, reference = mixed_and_reference
    x = images(2)
    compute = {
        "saliency": lambda model: saliency(model, x),
        "gradcam": lambda model: gradcam(model, x),
        "occlusion": lambda model: occlusion(model, x, patch=4, stride=4),
        "deconvnet": lambda model: deconvnet(model, x, "conv2").images,
    }[method]
    maps, expected = compute(mixed), compute(reference)
    assert maps.dtype == np.float32 and maps.shape == expected.shape
    assert np.all(np.isfinite(maps))
    assert np.abs(maps).max() > 0
    # float16 keeps about three significant digits
    np.testing.assert_allclose(maps, expected, atol=1e-2 * np.abs(expected).max())


# --- several outputs


def test_class_output_picks_the_second_head_as_a_single_output_model_would():
    model = multi_output_cnn()
    only_b = single_head_twin(model, "head_b")
    x = images(3)
    for index in (0, 1):
        np.testing.assert_allclose(
            saliency(model, x, Class(index, output=1), normalize=False),
            saliency(only_b, x, index, normalize=False), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(gradcam(model, x, Class(None, output=1)), gradcam(only_b, x),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        occlusion(model, x, Class(1, output=1), patch=4, stride=4, normalize=False),
        occlusion(only_b, x, 1, patch=4, stride=4, normalize=False), rtol=1e-5, atol=1e-7)
    # The first head is another function of the same trunk: its map differs.
    assert not np.allclose(saliency(model, x, Class(1, output=0), normalize=False),
                           saliency(only_b, x, 1, normalize=False))


def test_callable_target_sees_every_head_of_a_multi_output_model():
    model = multi_output_cnn()
    x = images(2)
    np.testing.assert_allclose(
        saliency(model, x, lambda outputs: outputs[1][:, 0], normalize=False),
        saliency(model, x, Class(0, output=1), normalize=False), rtol=1e-6)


def test_class_index_is_checked_against_the_chosen_head():
    with pytest.raises(ValueError, match=r"class indices in \[0, 1\].*output 1 has 2 classes"):
        saliency(multi_output_cnn(), images(1), Class(2, output=1))


# --- several inputs


def test_engine_runs_a_multi_input_model_and_returns_a_gradient_per_input():
    """The contract: `engine.run` takes a list of inputs; the attribution functions, which explain
    one image, refuse such models by name (below)."""
    model = multi_input_cnn()
    picture = images(2)
    vector = np.random.default_rng(1).normal(size=(2, 4)).astype(np.float32)
    result = engine.run(model, [picture, vector], 2, head="model")
    tensors = [tf.constant(picture), tf.constant(vector)]
    with tf.GradientTape() as tape:
        tape.watch(tensors)
        probability = model(tensors, training=False)[:, 2]
    expected = tape.gradient(probability, tensors)
    assert [g.shape for g in result.input_grads] == [(2, 16, 16, 3), (2, 4)]
    for got, want in zip(result.input_grads, expected):
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(result.scores, probability.numpy(), rtol=1e-5)


@pytest.mark.parametrize("call", [
    lambda m, x: saliency(m, x),
    lambda m, x: gradcam(m, x),
    lambda m, x: occlusion(m, x, patch=4),
    lambda m, x: integrated_gradients(m, x, steps=2),
    lambda m, x: feature_maps(m, x, "conv"),
    lambda m, x: deconvnet(m, x, "conv"),
    lambda m, x: maximize(m, objectives.channel("conv", 0), steps=1, progress=False),
], ids=["saliency", "gradcam", "occlusion", "integrated_gradients", "feature_maps", "deconvnet",
        "maximize"])
def test_single_image_techniques_refuse_a_multi_input_model_by_name(call):
    with pytest.raises(ValueError, match=r"one (image )?input.*(2 inputs|shapes)"):
        call(multi_input_cnn(), images(1))


# --- a base nested two levels deep


def test_layers_two_levels_deep_are_found_by_name_and_by_path():
    model = nested_cnn()
    deepest = model.get_layer("base").get_layer("inner").get_layer("deep_conv2")
    assert find_layer(model, "deep_conv2") is deepest
    assert find_layer(model, "base/inner/deep_conv2") is deepest
    assert last_conv_layer(model) is deepest


def test_nested_model_techniques_equal_the_flat_model_with_the_same_weights():
    model = nested_cnn()
    flat = flat_twin(model)
    x = images(2)
    np.testing.assert_allclose(model.predict(x, verbose=0), flat.predict(x, verbose=0), rtol=1e-5)
    np.testing.assert_allclose(gradcam(model, x, layer="deep_conv2"),
                               gradcam(flat, x, layer="conv2"), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gradcam(model, x), gradcam(flat, x), rtol=1e-5, atol=1e-6)
    nested_maps = feature_maps(model, x, ["deep_conv1", "base/inner/deep_conv2"])
    flat_maps = feature_maps(flat, x, ["conv1", "conv2"])
    for got, want in zip(nested_maps.values(), flat_maps.values()):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(deconvnet(model, x, "deep_conv2").images,
                               deconvnet(flat, x, "conv2").images, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(saliency(model, x, method="guided", normalize=False),
                               saliency(flat, x, method="guided", normalize=False),
                               rtol=1e-5, atol=1e-7)
    assert receptive_field(model, "deep_conv2") == receptive_field(flat, "conv2")


# --- BatchNorm and Dropout


def test_batchnorm_and_dropout_run_in_inference_mode():
    """Dropout is off and BatchNorm uses its moving statistics: the outputs and gradients are those
    of `model(x, training=False)`, the same at every call, and not those of training mode."""
    model = bn_dropout_cnn()
    # Training mode updates BatchNorm's moving statistics: it only ever runs on a copy.
    training_copy = keras.models.clone_model(model)
    training_copy.set_weights(model.get_weights())
    x = images(3)
    inference = model(x, training=False).numpy()
    assert not np.allclose(inference, training_copy(x, training=True).numpy(), atol=1e-3)

    np.testing.assert_allclose(feature_maps(model, x, "predictions")["predictions"], inference,
                               rtol=1e-5, atol=1e-7)
    bn_output = keras.Model(model.input, model.get_layer("bn").output)(x, training=False)
    np.testing.assert_allclose(feature_maps(model, x, "bn")["bn"], bn_output.numpy(),
                               rtol=1e-5, atol=1e-6)

    def probability_gradient(network, training_mode):
        tensor = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(tensor)
            probability = network(tensor, training=training_mode)[:, 1]
        return max_abs_over_channels(tape.gradient(probability, tensor))

    first = saliency(model, x, 1, logits=False, normalize=False)
    np.testing.assert_array_equal(first, saliency(model, x, 1, logits=False, normalize=False))
    np.testing.assert_allclose(first, probability_gradient(model, False), rtol=1e-4, atol=1e-8)
    assert not np.allclose(first, probability_gradient(training_copy, True), rtol=1e-2)
    np.testing.assert_array_equal(gradcam(model, x, layer="relu"), gradcam(model, x, layer="relu"))
    np.testing.assert_array_equal(occlusion(model, x, patch=4, stride=4),
                                  occlusion(model, x, patch=4, stride=4))


# --- a subclassed model


@pytest.mark.parametrize("call", [
    lambda m, x: saliency(m, x, logits=False, normalize=False),
    lambda m, x: saliency(m, x, smooth_samples=3, seed=5, logits=False, normalize=False),
    lambda m, x: gradient_input(m, x, logits=False, normalize=False),
    lambda m, x: integrated_gradients(m, x, steps=4, logits=False, normalize=False),
    lambda m, x: occlusion(m, x, patch=4, stride=4, normalize=False),
], ids=["saliency", "smoothgrad", "gradient_input", "integrated_gradients", "occlusion"])
def test_subclassed_model_gets_input_gradient_methods_equal_to_its_functional_twin(call):
    model = subclassed_cnn()
    twin = functional_twin(model)
    x = images(2)
    np.testing.assert_allclose(call(model, x), call(twin, x), rtol=1e-5, atol=1e-7)


def test_subclassed_model_asked_for_logits_warns_and_scores_its_outputs():
    """Its softmax is hidden in `call`, so it cannot be dropped: `logits=True` says so, and scores
    the probabilities."""
    model = subclassed_cnn()
    twin = functional_twin(model)
    x = images(2)
    with pytest.warns(UserWarning, match=r"subclassed.*not as pre-softmax logits.*`logits=False`"):
        maps = saliency(model, x, normalize=False)
    np.testing.assert_allclose(maps, saliency(twin, x, logits=False, normalize=False),
                               rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("call", [
    lambda m, x: gradcam(m, x),
    lambda m, x: gradcam(m, x, layer="conv"),
    lambda m, x: cam(m, x, method="scorecam"),
    lambda m, x: guided_gradcam(m, x),
    lambda m, x: saliency(m, x, method="guided"),
    lambda m, x: saliency(m, x, method="deconvnet"),
    lambda m, x: feature_maps(m, x, "conv"),
    lambda m, x: deconvnet(m, x, "conv"),
    lambda m, x: top_activations(m, x, "conv", k=1),
    lambda m, x: receptive_field(m, "conv"),
    lambda m, x: maximize(m, objectives.channel("conv", 0), steps=1, progress=False),
], ids=["gradcam", "gradcam_layer", "scorecam", "guided_gradcam", "guided_saliency",
        "deconvnet_saliency", "feature_maps", "deconvnet", "top_activations", "receptive_field",
        "maximize"])
def test_subclassed_model_is_refused_clearly_where_the_layer_graph_is_needed(call):
    with pytest.raises(ValueError, match=r"functional or sequential model.*subclassed") as raised:
        call(subclassed_cnn(), images(1))
    assert "in user code" not in str(raised.value)
