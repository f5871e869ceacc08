"""Deconvnet reconstruction against an explicit Zeiler–Fergus deconvnet written with tf.nn ops."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers.models import alexnet_like, alexnet_like_layers
from helpers.state import assert_model_unchanged, model_state
from keras_vis.deconv import Reconstruction, deconvnet

L = keras.layers


# Conv 8@7×7/2 → pool 3/2 → conv 16@5×5 same → pool 3/2 → conv 16@3×3 → pool 3/2.
WIDTHS, KERNELS = (8, 16, 16), (7, 5, 3)


@pytest.fixture
def model():
    net = alexnet_like(67, 5, WIDTHS, KERNELS, seed=1)
    # Random biases, so that dropping them in the projection is actually tested.
    for layer in net.layers:
        if isinstance(layer, L.Conv2D):
            layer.bias.assign(np.random.default_rng(2).normal(0, 0.1, layer.bias.shape))
    yield net
    keras.backend.clear_session(free_memory=False)


@pytest.fixture
def images():
    return np.random.default_rng(0).uniform(-1, 1, (3, 67, 67, 3)).astype(np.float32)


def reference(layers, image, stop, channel, keep="max"):
    """An explicit deconvnet for one image: forward pass with tf.nn ops recording the pooling
    switches, then keep → (ReLU → conv2d_transpose) / unpool through the switches, top-down."""
    x = tf.constant(image[None])
    steps = []
    for layer in layers:
        if isinstance(layer, L.Conv2D):
            steps.append(("conv", layer, x.shape))
            x = tf.nn.relu(
                tf.nn.conv2d(x, layer.kernel, layer.strides, layer.padding.upper()) + layer.bias
            )
        else:
            steps.append(("pool", None, x.shape))
            x, switches = tf.nn.max_pool_with_argmax(
                x, layer.pool_size, layer.strides, layer.padding.upper(),
                include_batch_in_index=True,
            )
            steps[-1] = ("pool", switches, steps[-1][2])
        if layer.name == stop:
            break
    activation = x.numpy()[0]
    if channel is None:
        channel = int(activation.max(axis=(0, 1)).argmax())
    feature_map = activation[..., channel]
    y, x_ = np.unravel_index(feature_map.argmax(), feature_map.shape)
    kept = np.zeros_like(activation)
    if keep == "max":
        kept[y, x_, channel] = feature_map[y, x_]
    else:
        kept[..., channel] = feature_map
    signal = tf.constant(kept[None])
    for kind, item, shape in reversed(steps):
        if kind == "conv":
            signal = tf.nn.relu(signal)
            signal = tf.nn.conv2d_transpose(
                signal, item.kernel, shape, item.strides, item.padding.upper()
            )
        else:
            # Unpooling: each value goes to its window's switch; overlapping windows that share
            # a switch add up (scatter_nd sums duplicate indices).
            signal = tf.reshape(
                tf.scatter_nd(
                    tf.reshape(item, (-1, 1)), tf.reshape(signal, (-1,)),
                    (int(np.prod(shape)),),
                ),
                shape,
            )
    return signal.numpy()[0], channel, (y, x_), feature_map[y, x_]


def vanilla_gradient(model, image, stop, channel, position):
    layer = model.get_layer(stop)
    extractor = keras.Model(model.inputs[0], layer.output)
    x = tf.constant(image[None])
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = extractor(x)[0, position[0], position[1], channel]
    return tape.gradient(value, x).numpy()[0]


@pytest.mark.parametrize("stop", ["conv3", "pool2", "conv1"])
def test_keep_max_matches_explicit_deconvnet(model, images, stop):
    result = deconvnet(model, images, stop, channel=[2, 5, 7])
    for i, image in enumerate(images):
        expected, channel, position, value = reference(model.layers, image, stop, [2, 5, 7][i])
        np.testing.assert_allclose(result.images[i], expected, rtol=1e-4, atol=1e-6)
        assert np.abs(expected).max() > 0
        assert result.channels[i] == channel
        assert tuple(result.positions[i]) == position
        np.testing.assert_allclose(result.values[i], value, rtol=1e-5)


def test_projection_differs_from_the_plain_gradient(model, images):
    """The rectified backward pass matters: the reference is not the vanilla input-gradient."""
    result = deconvnet(model, images[:1], "conv3", channel=2)
    plain = vanilla_gradient(model, images[0], "conv3", 2, result.positions[0]) * result.values[0]
    assert not np.allclose(result.images[0], plain, atol=1e-4)


def test_keep_all_matches_explicit_deconvnet(model, images):
    result = deconvnet(model, images, "pool2", channel=3, keep="all")
    for i, image in enumerate(images):
        expected, _, _, _ = reference(model.layers, image, "pool2", 3, keep="all")
        np.testing.assert_allclose(result.images[i], expected, rtol=1e-4, atol=1e-6)
    assert result.keep == "all"


def test_default_channel_is_the_strongest_per_image(model, images):
    result = deconvnet(model, images, "conv2")
    extractor = keras.Model(model.inputs[0], model.get_layer("conv2").output)
    activations = extractor(images).numpy()
    np.testing.assert_array_equal(result.channels, activations.max(axis=(1, 2)).argmax(axis=1))
    np.testing.assert_allclose(result.values, activations.max(axis=(1, 2, 3)), rtol=1e-5)
    for i, image in enumerate(images):
        expected, channel, _, _ = reference(model.layers, image, "conv2", None)
        assert channel == result.channels[i]
        np.testing.assert_allclose(result.images[i], expected, rtol=1e-4, atol=1e-6)


def test_nested_base_matches_explicit_deconvnet(images):
    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(3)
    base = keras.Sequential([keras.Input((67, 67, 3))] + alexnet_like_layers(WIDTHS, KERNELS), name="base")
    model = keras.Sequential([keras.Input((67, 67, 3)), base, L.Flatten(), L.Dense(4)])
    result = deconvnet(model, tf.constant(images), "base/conv3", channel=4)
    for i, image in enumerate(images):
        expected, _, _, _ = reference(base.layers, image, "conv3", 4)
        np.testing.assert_allclose(result.images[i], expected, rtol=1e-4, atol=1e-6)


def test_standalone_relu_layers_project_like_fused_ones(model, images):
    """A functional copy with `Conv2D` + `ReLU()` layers (shared weights) gives the same result."""
    inputs = keras.Input((67, 67, 3))
    x = inputs
    for layer in model.layers[:5]:
        if isinstance(layer, L.Conv2D):
            linear = L.Conv2D(layer.filters, layer.kernel_size, strides=layer.strides,
                              padding=layer.padding)
            x = L.ReLU()(linear(x))
            linear.set_weights(layer.get_weights())
        else:
            x = L.MaxPooling2D(3, 2)(x)
    split = keras.Model(inputs, x)
    fused = deconvnet(model, images, "conv3", channel=1)
    result = deconvnet(split, images, -1, channel=1)
    np.testing.assert_allclose(result.images, fused.images, rtol=1e-5, atol=1e-7)


def test_result_is_displayable(model, images):
    result = deconvnet(model, images, "conv3")
    assert isinstance(result, Reconstruction)
    assert result.images.dtype == np.float32 and result.images.shape == images.shape
    assert result.display.dtype == np.uint8 and result.display.shape == images.shape
    array = np.asarray(result)
    assert array is result.display and len(result) == 3 and len(result.titles) == 3
    for projection, shown in zip(result.images, result.display):
        assert shown.min() == 0 and shown.max() == 255
        scaled = (projection - projection.min()) / (projection.max() - projection.min()) * 255
        np.testing.assert_array_equal(shown, np.round(scaled).astype(np.uint8))
    assert str(result.channels[0]) in result.titles[0]


def test_one_compiled_step_for_per_image_channels(model, images):
    from keras_vis.deconv.reconstruction import KeptActivation
    from keras_vis.engine import get_engine
    from keras_vis.rules import DECONVNET

    deconvnet(model, images, "conv3", channel=[0, 1, 2], batch_size=2)
    deconvnet(model, images[:2], "conv3", channel=None)
    deconvnet(model, images, "conv3", channel=9, batch_size=2)
    layer = model.get_layer("conv3")
    engine = get_engine(model, [layer], KeptActivation(layer, "max"), composite=DECONVNET,
                        taps_only=True)
    assert engine.trace_count == 1


def test_model_unchanged(model, images):
    before = model_state(model)
    deconvnet(model, images, "conv3", keep="all")
    deconvnet(model, images, "pool3")
    with pytest.raises(ValueError):
        deconvnet(model, images, "conv3", channel=99)
    assert_model_unchanged(model, before)


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"layer": "conv3", "channel": 16}, ValueError, "[0, 15]"),
        ({"layer": "conv3", "channel": -1}, ValueError, "[0, 15]"),
        ({"layer": "conv3", "channel": [0, 1]}, ValueError, "3 ints"),
        ({"layer": "conv3", "channel": 1.5}, TypeError, "channel"),
        ({"layer": "conv3", "channel": True}, TypeError, "channel"),
        ({"layer": "dense", "channel": 0}, ValueError, "spatial output"),
        ({"layer": "flatten"}, ValueError, "spatial output"),
        ({"layer": "conv9"}, ValueError, "conv3"),
        ({"layer": "conv3", "keep": "mean"}, ValueError, "'max', 'all'"),
        ({"layer": "conv3", "batch_size": 0}, ValueError, "batch_size"),
    ],
)
def test_bad_arguments(model, images, kwargs, error, words):
    layer = kwargs.pop("layer")
    with pytest.raises(error, match="Expected") as info:
        deconvnet(model, images, layer, **kwargs)
    assert words in str(info.value)


def test_bad_images(model, images):
    with pytest.raises(ValueError, match="images"):
        deconvnet(model, images[0], "conv3")
    with pytest.raises(ValueError, match="images"):
        deconvnet(model, images[:, :30], "conv3")
    with pytest.raises(TypeError, match="model"):
        deconvnet("model", images, "conv3")
