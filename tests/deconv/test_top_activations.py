"""Receptive fields and streamed top-k activating inputs, against naive references."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers.models import alexnet_like, alexnet_like_layers
from helpers.state import assert_model_unchanged, model_state
from keras_vis.deconv import TopActivations, deconvnet, receptive_field, top_activations
from keras_vis.deconv.reconstruction import KeptActivation
from keras_vis.engine import get_engine
from keras_vis.pixels import scale_each_to_uint8, tile

L = keras.layers


# Conv 4@5×5/2 → pool 3/2 → conv 8@3×3 same → pool 3/2.
WIDTHS, KERNELS = (4, 8), (5, 3)


@pytest.fixture
def model():
    net = alexnet_like(35, 3, WIDTHS, KERNELS, seed=4)
    yield net
    keras.backend.clear_session(free_memory=False)


@pytest.fixture
def images():
    return np.random.default_rng(5).uniform(0, 1, (11, 35, 35, 3)).astype(np.float32)


# Worked by hand: r' = r + (k - 1) j, j' = j s, o' = o - (leading pad) j.
HAND_FIELDS = {
    "conv1": ((5, 5), (2, 2), (0, 0), (16, 16)),
    "pool1": ((9, 9), (4, 4), (0, 0), (7, 7)),
    "conv2": ((17, 17), (4, 4), (-4, -4), (7, 7)),  # 'same' 3×3 pads 1 = 4 input pixels
    "pool2": ((25, 25), (8, 8), (-4, -4), (3, 3)),
}


@pytest.mark.parametrize("name", sorted(HAND_FIELDS))
def test_receptive_field_worked_by_hand(model, name):
    field = receptive_field(model, name)
    assert (field.size, field.jump, field.offset, field.map_size) == HAND_FIELDS[name]
    assert field.map_size == tuple(model.get_layer(name).output.shape[1:3])


def test_receptive_field_inside_a_nested_base():
    keras.backend.clear_session(free_memory=False)
    base = keras.Sequential([keras.Input((35, 35, 3))] + alexnet_like_layers(WIDTHS, KERNELS), name="base")
    outer = keras.Sequential([keras.Input((35, 35, 3)), base, L.Flatten(), L.Dense(2)])
    field = receptive_field(outer, "base/conv2")
    assert (field.size, field.jump, field.offset, field.map_size) == HAND_FIELDS["conv2"]
    whole = receptive_field(outer, "base")
    assert (whole.size, whole.jump, whole.offset) == HAND_FIELDS["pool2"][:3]


@pytest.mark.applications
def test_receptive_field_of_vgg16_nested_in_a_transfer_model():
    """The published VGG16 fields: block5_conv3 sees 196 px with a 16 px jump, block5_pool 212/32."""
    keras.backend.clear_session(free_memory=False)
    base = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    model = keras.Sequential([keras.Input((32, 32, 3)), base, L.Flatten(), L.Dense(2)])
    conv = receptive_field(model, "vgg16/block5_conv3")
    pool = receptive_field(model, "block5_pool")
    assert (conv.size, conv.jump, conv.offset) == ((196, 196), (16, 16), (-90, -90))
    assert (pool.size, pool.jump) == ((212, 212), (32, 32))
    assert receptive_field(model, "block3_conv1").size == (24, 24)


def gradient_support(extractor, image_shape, position):
    """Bounding box of the input pixels the unit at `position` depends on (all weights positive)."""
    x = tf.ones((1,) + image_shape)
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = extractor(x)[0, position[0], position[1], 0]
    rows, cols = np.nonzero(tape.gradient(value, x).numpy()[0, ..., 0])
    return rows.min(), cols.min(), rows.max() + 1, cols.max() + 1


def test_receptive_field_equals_gradient_support_through_padding_dilation_branches():
    keras.backend.clear_session(free_memory=False)
    ones = {"kernel_initializer": "ones", "use_bias": False}
    inputs = keras.Input((21, 19, 1))
    x = L.ZeroPadding2D(((2, 1), (0, 3)))(inputs)
    x = L.Conv2D(1, 3, strides=2, **ones)(x)
    a = L.Conv2D(1, (3, 2), dilation_rate=2, padding="same", **ones)(x)
    b = L.Conv2D(1, 5, padding="same", **ones)(x)
    x = L.Add()([a, b])
    x = L.AveragePooling2D(2, strides=2, padding="same")(x)
    x = L.Cropping2D(((1, 0), (0, 1)))(x)
    x = L.DepthwiseConv2D(3, padding="same", depthwise_initializer="ones", use_bias=False)(x)
    outputs = L.Conv2D(1, 3, strides=2, padding="same", name="last", **ones)(x)
    model = keras.Model(inputs, outputs)
    field = receptive_field(model, "last")
    assert field.map_size == tuple(outputs.shape[1:3])
    for y in range(outputs.shape[1]):
        for x_ in range(outputs.shape[2]):
            assert field.box((y, x_)) == gradient_support(model, (21, 19, 1), (y, x_))


def test_receptive_field_errors(model):
    with pytest.raises(ValueError, match="spatial output"):
        receptive_field(model, "dense")
    keras.backend.clear_session(free_memory=False)
    inputs = keras.Input((8, 8, 1))
    x = L.UpSampling2D()(inputs)
    upsampled = keras.Model(inputs, L.Conv2D(2, 3, name="after")(x))
    with pytest.raises(ValueError, match="UpSampling2D"):
        receptive_field(upsampled, "after")
    open_size = keras.Sequential([keras.Input((None, None, 1)), L.Conv2D(2, 3, name="c")])
    with pytest.raises(ValueError, match="input_size"):
        receptive_field(open_size, "c")
    assert receptive_field(open_size, "c", input_size=(9, 9)).map_size == (7, 7)


def naive_top(model, images, layer, channels, k):
    """All activations at once, then a stable descending sort per channel."""
    activations = keras.Model(model.inputs[0], model.get_layer(layer).output)(images).numpy()
    top = []
    for channel in channels:
        peaks = activations[..., channel].reshape(len(images), -1)
        order = np.argsort(-peaks.max(axis=1), kind="stable")[:k]
        positions = [np.unravel_index(peaks[i].argmax(), activations.shape[1:3]) for i in order]
        top.append((order, peaks.max(axis=1)[order], np.array(positions)))
    return top


def test_top_k_matches_naive_ranking(model, images):
    # batch_size 3 over 11 images with k=4: the running top-k is merged across batches.
    result = top_activations(model, images, "conv2", [1, 6, 3], k=4, batch_size=3)
    assert isinstance(result, TopActivations) and result.count == 11
    for row, (indices, values, positions) in enumerate(
        naive_top(model, images, "conv2", [1, 6, 3], 4)
    ):
        np.testing.assert_array_equal(result.indices[row], indices)
        np.testing.assert_allclose(result.values[row], values, rtol=1e-5)
        np.testing.assert_array_equal(result.positions[row], positions)
        np.testing.assert_array_equal(result.images[row], images[indices])
    np.testing.assert_array_equal(result.channels, [1, 6, 3])


def test_projections_and_crops_of_the_winners(model, images):
    result = top_activations(model, images, "conv2", [0, 5], k=3, batch_size=4)
    field = receptive_field(model, "conv2")
    assert result.receptive_field == field
    for row, channel in enumerate(result.channels):
        direct = deconvnet(model, images[result.indices[row]], "conv2", channel=int(channel))
        np.testing.assert_allclose(result.projections[row], direct.images, rtol=1e-5, atol=1e-7)
        np.testing.assert_array_equal(result.positions[row], direct.positions)
        for rank in range(3):
            top, left, bottom, right = result.boxes[row, rank]
            assert (top, left, bottom, right) == field.window(result.positions[row, rank])
            assert (bottom - top, right - left) == field.size
            image = images[result.indices[row, rank]]
            np.testing.assert_array_equal(result.crops[row, rank], image[top:bottom, left:right])
            projection = result.projections[row, rank]
            np.testing.assert_array_equal(
                result.projection_crops[row, rank], projection[top:bottom, left:right]
            )
            # The projection lives inside the unit's (clipped) receptive field.
            t, l, b, r = field.box(result.positions[row, rank])
            outside = projection.copy()
            outside[t:b, l:r] = 0
            assert np.abs(projection).max() > 0 and not outside.any()


@pytest.mark.parametrize("form", ["tensor", "images", "pairs", "batched_pairs"])
def test_dataset_forms_agree(model, images, form):
    labels = np.arange(len(images))
    dataset = {
        "tensor": tf.constant(images),
        "images": tf.data.Dataset.from_tensor_slices(images),
        "pairs": tf.data.Dataset.from_tensor_slices((images, labels)),
        "batched_pairs": tf.data.Dataset.from_tensor_slices((images, labels)).batch(5),
    }[form]
    expected = top_activations(model, images, "pool2", [2, 7], k=5, batch_size=4)
    result = top_activations(model, dataset, "pool2", [2, 7], k=5, batch_size=4)
    np.testing.assert_array_equal(result.indices, expected.indices)
    np.testing.assert_allclose(result.values, expected.values, rtol=1e-6)
    assert result.count == 11


def test_fewer_images_than_k_and_all_channels(model, images):
    result = top_activations(model, images[:4], "pool1", k=9)
    assert result.values.shape == (4, 4) and result.crops.shape == (4, 4, 9, 9, 3)
    np.testing.assert_array_equal(result.channels, np.arange(4))
    assert all(sorted(row) == [0, 1, 2, 3] for row in result.indices.tolist())


def test_panel_is_the_classic_grid(model, images):
    result = top_activations(model, images, "conv2", [4], k=9, batch_size=5)
    crops = result.panel(4, show="crops", pad=2)
    assert crops.dtype == np.uint8 and crops.shape == (3 * 17 + 4, 3 * 17 + 4, 3)
    np.testing.assert_array_equal(crops[:17, 19:36], np.round(result.crops[0, 1] * 255))
    projections = result.panel(4, show="projections", pad=2)
    scaled = scale_each_to_uint8(result.projection_crops[0])
    np.testing.assert_array_equal(projections[19:36, :17], scaled[3])
    np.testing.assert_array_equal(projections, tile(scaled, pad=2))
    both = result.panel(4)
    assert both.shape == (55, 2 * 55 + 8, 3)
    assert result.panel(4, show="images", cols=9, pad=0).shape == (35, 9 * 35, 3)
    with pytest.raises(ValueError, match="channel"):
        result.panel(3)
    with pytest.raises(ValueError, match="show"):
        result.panel(4, show="everything")


def test_one_trace_for_all_batches(model, images):
    top_activations(model, images, "conv2", [0], k=2, batch_size=3)
    top_activations(model, images[:7], "conv2", [1, 2], k=2, batch_size=3)
    layer = model.get_layer("conv2")
    engine = get_engine(model, [layer], KeptActivation(layer), input_grads=False, taps_only=True)
    assert engine.trace_count == 1


def test_unknown_receptive_field_falls_back_to_whole_images(images):
    keras.backend.clear_session(free_memory=False)
    inputs = keras.Input((35, 35, 3))
    x = L.Conv2D(2, 3, strides=2, activation="relu")(inputs)
    x = L.UpSampling2D()(x)
    model = keras.Model(inputs, L.Conv2D(3, 3, activation="relu", name="after")(x))
    with pytest.warns(UserWarning, match="whole images"):
        result = top_activations(model, images[:3], "after", [0], k=2)
    assert result.receptive_field is None
    np.testing.assert_array_equal(result.crops, result.images)


def test_model_unchanged(model, images):
    before = model_state(model)
    top_activations(model, images, "conv2", [0, 1], k=3)
    with pytest.raises(ValueError):
        top_activations(model, images, "conv2", [8])
    assert_model_unchanged(model, before)


@pytest.mark.parametrize(
    "args, kwargs, error, words",
    [
        (("conv2", 8), {}, ValueError, "[0, 7]"),
        (("conv2", [0, 9]), {}, ValueError, "[0, 7]"),
        (("conv2", [1, 1]), {}, ValueError, "distinct"),
        (("conv2", "0"), {}, TypeError, "channels"),
        (("dense", 0), {}, ValueError, "spatial output"),
        (("flatten", 0), {}, ValueError, "spatial output"),
        (("conv2", 0), {"k": 0}, ValueError, "`k`"),
        (("conv2", 0), {"batch_size": -1}, ValueError, "batch_size"),
    ],
)
def test_bad_arguments(model, images, args, kwargs, error, words):
    with pytest.raises(error, match="Expected") as info:
        top_activations(model, images, *args, **kwargs)
    assert words in str(info.value)


def test_bad_datasets(model, images):
    with pytest.raises(ValueError, match="at least one image"):
        top_activations(model, images[:0], "conv2", 0)
    with pytest.raises(ValueError, match="at least one image"):
        top_activations(model, tf.data.Dataset.from_tensor_slices(images).take(0), "conv2", 0)
    with pytest.raises(TypeError, match="dataset"):
        top_activations(model, "images/", "conv2", 0)
    with pytest.raises(TypeError, match="dataset"):
        top_activations(model, tf.data.Dataset.from_tensor_slices({"x": images}), "conv2", 0)
    with pytest.raises(ValueError, match="dataset"):
        top_activations(model, images[:, :20], "conv2", 0)
    with pytest.raises(ValueError, match="rank"):
        top_activations(model, tf.data.Dataset.from_tensor_slices(images[:, 0]), "conv2", 0)
    bad = images.copy()
    bad[7, 3, 3, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        top_activations(model, bad, "conv2", 0, batch_size=4)
