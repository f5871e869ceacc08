"""Incremental occlusion: the same maps as the whole forward passes, from regions of the maps.

The reference is `occlusion(..., incremental=False)`, itself checked against a naive loop in
`test_occlusion.py`; copies' scores are also checked one by one against the model's own call.
"""

import keras
import numpy as np
import pytest
from helpers.models import cnn_with_unknown_layer

import keras_vis
from keras_vis import steps
from keras_vis.rules import kinds
from keras_vis.attribution import occlusion
from keras_vis.engine import run as engine_run
from keras_vis.graph import record_calls
from keras_vis.incremental import patch_scorer
from keras_vis.incremental._graph import local_part
from keras_vis.incremental._regions import cost_fraction, direct_reads, propagate
from keras_vis.progress import Bar
from keras_vis.objectives import Channel
from keras_vis.targets import as_target

PAIRS = [(8, 4), (14, 14), (16, 8)]


def residual_net(size=(37, 35), classes=5):
    """Every local kind: rescaling, padding, strided valid and same convolutions, BatchNorm, ReLU6,
    depthwise and separable convolutions, Add, average and max pooling with "same" padding, a
    dilated convolution, Concatenate, cropping; then global pooling and a softmax."""
    inputs = keras.Input(size + (3,))
    x = keras.layers.Rescaling(0.5, offset=-0.2)(inputs)
    x = keras.layers.ZeroPadding2D(((1, 2), (0, 1)))(x)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="valid")(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU(6.0)(x)
    shortcut = keras.layers.Conv2D(8, 1, padding="same")(x)
    y = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    y = keras.layers.SeparableConv2D(8, 3, padding="same")(y)
    x = keras.layers.Add()([shortcut, y])
    x = keras.layers.AveragePooling2D(3, strides=1, padding="same")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same")(x)
    z = keras.layers.Conv2D(4, 3, dilation_rate=2, padding="same")(x)
    x = keras.layers.Concatenate()([x, z])
    x = keras.layers.Cropping2D(((1, 0), (0, 1)))(x)
    x = keras.layers.Conv2D(6, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="residual")


def demo_trunk(count=2):
    """The demo model from its first convolution on (its convolutional part, trained), and
    sample images as that part sees them.

    The whole demo model standardizes each image over its rows and columns first (a
    LayerNormalization over the spatial axes): a patch changes every position after it, so only
    the rescaling before it is local there.
    """
    model = keras_vis.demo.load_model()
    start = model.get_layer("block1_conv1")
    standardize = keras.Model(model.inputs, start.input)
    x = standardize([keras_vis.demo.sample_batch()[:count]]).numpy()
    return keras.Model(start.input, model.outputs[0], name="demo_trunk"), x


def images(shape, count=2, seed=0):
    return np.random.default_rng(seed).random((count,) + shape, dtype=np.float32)


def assert_same_maps(model, x, target, **options):
    """Incremental and whole-pass maps agree within 1e-4 of the score range."""
    whole = occlusion(model, x, target, normalize=False, incremental=False, progress=False,
                      **options)
    incremental = occlusion(model, x, target, normalize=False, incremental=True, progress=False,
                            **options)
    spread = np.ptp(whole)
    assert spread > 0
    np.testing.assert_allclose(incremental, whole, rtol=0, atol=1e-4 * spread)
    return whole


@pytest.mark.parametrize("patch, stride", PAIRS + [((5, 7), (2, 3)), (3, 1)])
def test_residual_net_maps_equal_the_whole_passes(patch, stride):
    model = residual_net()
    assert_same_maps(model, images((37, 35, 3)), [1, 3], patch=patch, stride=stride,
                     fill="mean", batch_size=13)


@pytest.mark.parametrize("patch, stride", PAIRS)
def test_demo_convolutions_equal_the_whole_passes(patch, stride):
    model, x = demo_trunk()
    assert_same_maps(model, x, None, patch=patch, stride=stride, logits=True, fill=0.0)


def test_whole_demo_model_is_exact_and_auto_takes_the_whole_passes():
    model = keras_vis.demo.load_model()
    x = keras_vis.demo.sample_batch()[:1]
    part = local_part(model, x.shape[1:])
    assert [node.layer.name for node in part.nodes[1:]] == ["rescaling"]
    assert_same_maps(model, x, None, patch=16, stride=8)
    corners = np.array([[0, 0], [24, 40]])
    assert patch_scorer(model, as_target(None), head="model", image_shape=x.shape[1:],
                        patch_size=(16, 16), patch_starts=corners) is None


@pytest.mark.applications
@pytest.mark.parametrize("application, size", [("VGG16", (45, 41)), ("MobileNetV2", (43, 37))])
def test_applications_equal_the_whole_passes(application, size):
    options = {"alpha": 0.35} if application == "MobileNetV2" else {}
    base = getattr(keras.applications, application)(weights=None, include_top=False,
                                                     input_shape=size + (3,), **options)
    x = keras.layers.Flatten()(base.outputs[0])
    model = keras.Model(base.inputs, keras.layers.Dense(4)(x))
    assert_same_maps(model, images(size + (3,), count=1) * 2 - 1, 2, patch=8, stride=4)


@pytest.mark.applications
@pytest.mark.slow
@pytest.mark.parametrize("application", ["VGG16", "MobileNetV2"])
@pytest.mark.parametrize("patch, stride", PAIRS)
def test_applications_at_224_equal_the_whole_passes(application, patch, stride):
    model = getattr(keras.applications, application)(weights=None)
    assert_same_maps(model, images((224, 224, 3), count=1) * 2 - 1, 7, patch=patch,
                     stride=stride, logits=True)


def test_each_copy_scores_as_the_model_scores_it_patches_on_every_border():
    model = residual_net((21, 19))
    x = images((21, 19, 3), count=1)
    corners = np.array([[0, 0], [0, 13], [15, 0], [15, 13], [7, 5], [3, 11]])
    scorer = patch_scorer(model, as_target(2), head="linear", image_shape=x.shape[1:],
                          patch_size=(6, 6), patch_starts=corners, required=True)
    grey = np.full((len(corners), 6, 6, 3), 0.3, np.float32)
    with Bar(len(corners), "test", enabled=False) as bar:
        scores = scorer.scores(x, lambda image, chosen: grey[chosen], np.array([2]),
                               batch_size=4, bar=bar)
    copies = np.repeat(x, len(corners), axis=0)
    for copy, (top, left) in zip(copies, corners):
        copy[top:top + 6, left:left + 6] = 0.3
    expected = engine_run(model, copies, 2, head="linear", input_grads=False).scores
    np.testing.assert_allclose(scores[0], expected, rtol=1e-5, atol=1e-6)


def test_nested_base_is_followed():
    base = residual_net((25, 23))
    trunk = keras.Model(base.inputs, base.layers[-3].output, name="trunk")
    inputs = keras.Input((25, 23, 3))
    features = keras.layers.GlobalMaxPooling2D()(trunk(inputs))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(features))
    part = local_part(model, (25, 23, 3))
    assert len(part.nodes) > 10
    assert_same_maps(model, images((25, 23, 3)), [0, 2], patch=5, stride=3)


def test_auto_falls_back_silently_and_true_says_why(recwarn):
    model = cnn_with_unknown_layer()
    x = images(model.inputs[0].shape[1:], count=1)
    whole = occlusion(model, x, 1, patch=4, stride=4, incremental=False, progress=False)
    np.testing.assert_array_equal(
        occlusion(model, x, 1, patch=4, stride=4, progress=False), whole)
    assert not [w for w in recwarn if "increment" in str(w.message)]
    channel = Channel(model.layers[1].name, 0)
    with pytest.raises(ValueError, match="inner layer"):
        occlusion(model, x, channel, patch=4, stride=4, incremental=True)
    occlusion(model, x, channel, patch=4, stride=4, progress=False)  # auto: the whole passes


@pytest.mark.applications
def test_auto_computes_incrementally_where_it_pays():
    corners = np.array([[y, x] for y in range(0, 217, 8) for x in range(0, 217, 8)])
    model = keras.applications.VGG16(weights=None, include_top=False, input_shape=(224, 224, 3))
    options = dict(head="model", image_shape=(224, 224, 3), patch_size=(8, 8),
                   patch_starts=corners)
    assert patch_scorer(model, as_target(lambda o: o[:, 0, 0, 0]), **options) is not None
    tiny = residual_net((21, 19))  # a job too small to repay compiling the incremental steps
    assert patch_scorer(tiny, as_target(0), head="model", image_shape=(21, 19, 3),
                        patch_size=(3, 3), patch_starts=corners[:4] % 16) is None


def test_a_patch_covering_most_of_the_image_takes_the_whole_passes():
    model = residual_net((21, 19))
    part = local_part(model, (21, 19, 3))
    small = propagate(part, np.array([[0, 0], [15, 13]]), (3, 3))
    large = propagate(part, np.array([[0, 0], [3, 1]]), (18, 18))
    assert cost_fraction(part, small) < 0.5 < cost_fraction(part, large)
    assert patch_scorer(model, as_target(0), head="linear", image_shape=(21, 19, 3),
                        patch_size=(18, 18), patch_starts=[[0, 0], [3, 1]]) is None


def test_approximation_is_exact_at_one_and_cheaper_below():
    model = residual_net()
    x = images((37, 35, 3))
    options = dict(patch=8, stride=4, normalize=False, progress=False, incremental=True)
    exact = occlusion(model, x, [1, 3], **options)
    np.testing.assert_array_equal(occlusion(model, x, [1, 3], approximate=1.0, **options), exact)
    part = local_part(model, (37, 35, 3))
    corners = np.array([[0, 0], [12, 20], [29, 27]])
    costs = [cost_fraction(part, propagate(part, corners, (8, 8), tau))
             for tau in (0.25, 0.5, 1.0)]
    assert costs[0] < costs[1] < costs[2]
    rough = occlusion(model, x, [1, 3], approximate=0.5, **options)
    assert not np.allclose(rough, exact, atol=1e-6)
    # On the trained demo convolutions, the approximate map keeps the exact map's picture.
    trunk, sample = demo_trunk()
    options = dict(patch=8, stride=4, fill=0.0, progress=False)
    exact = occlusion(trunk, sample, incremental=True, **options)
    rough = occlusion(trunk, sample, approximate=0.5, **options)
    for a, b in zip(exact, rough):
        assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.95


def test_regions_grow_as_the_layers_reach():
    model = residual_net((21, 19))
    part = local_part(model, (21, 19, 3))
    regions = propagate(part, np.array([[4, 6]]), (3, 2))
    names = [node.layer.name if node.layer else "input" for node in part.nodes]
    sizes = dict(zip(names, regions.sizes))
    assert sizes["input"] == (3, 2)
    padded = names[2]  # ZeroPadding2D ((1, 2), (0, 1)): the region moves by its top and left
    assert sizes[padded] == (3, 2) and tuple(regions.starts[0, 2]) == (5, 6)
    strided = names[3]  # 3×3, stride 2, valid: rows 5..7 reach outputs 2..3, columns 6..7: 2..3
    assert sizes[strided] == (2, 2) and tuple(regions.starts[0, 3]) == (2, 2)


def test_calls_reading_their_inputs_regions_take_them_as_they_are():
    inputs = keras.Input((19, 17, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="grow")(inputs)
    a = keras.layers.Conv2D(4, 1, name="one_by_one")(x)
    b = keras.layers.Conv2D(4, 1, activation="relu", name="other_one_by_one")(x)
    x = keras.layers.Add(name="same_regions")([a, b])
    x = keras.layers.Conv2D(4, 3, padding="same", name="grow_again")(x)
    x = keras.layers.Conv2D(4, 1, strides=2, name="strided_one_by_one")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
    part = local_part(model, (19, 17, 3))
    corners = np.stack(np.meshgrid([0, 6, 14], [0, 5, 12], indexing="ij"), -1).reshape(-1, 2)
    direct = direct_reads(part, propagate(part, corners, (5, 5)))
    names = {part.nodes[k].layer.name for k in direct}
    assert names == {"one_by_one", "other_one_by_one", "same_regions"}
    assert_same_maps(model, images((19, 17, 3)), 1, patch=5, stride=3)


def test_bad_options_say_what_was_expected():
    model = residual_net((21, 19))
    x = images((21, 19, 3), count=1)
    with pytest.raises(ValueError, match="incremental"):
        occlusion(model, x, patch=4, stride=2, incremental="yes")
    for tau in (0, 1.5, -0.5):
        with pytest.raises(ValueError, match=r"approximate.*\(0, 1\]"):
            occlusion(model, x, patch=4, stride=2, approximate=tau)
    with pytest.raises(TypeError, match="approximate"):
        occlusion(model, x, patch=4, stride=2, approximate="half")
    with pytest.raises(ValueError, match="incremental=False"):
        occlusion(model, x, patch=4, stride=2, incremental=False, approximate=0.5)


def test_copies_are_batched_and_the_maps_cached_once_per_image(monkeypatch):
    from keras_vis.incremental._step import IncrementalSteps

    batches, cached = [], []
    scores, cache = IncrementalSteps.scores, IncrementalSteps.cache
    monkeypatch.setattr(IncrementalSteps, "scores", lambda self, pixels, *rest: (
        batches.append(len(pixels)), scores(self, pixels, *rest))[1])
    monkeypatch.setattr(IncrementalSteps, "cache", lambda self, image: (
        cached.append(len(image)), cache(self, image))[1])
    model = residual_net((21, 19))
    occlusion(model, images((21, 19, 3), count=2), 0, patch=4, stride=3, batch_size=16,
              incremental=True, progress=False)
    positions = 7 * 6  # rows 0, 3, ..., 15, 17 (flush with the edge) and columns 0, 3, ..., 15
    assert cached == [1, 1]
    assert sum(batches) == 2 * positions
    assert batches == [16, 16, 10] * 2


def test_other_images_and_classes_reuse_the_compiled_steps():
    model = residual_net((21, 19))
    options = dict(patch=4, stride=2, incremental=True, progress=False)
    occlusion(model, images((21, 19, 3), seed=1), [0, 1], **options)
    traced = steps.trace_count(model, "incremental")
    assert traced == 2  # the unaltered pass and the copies
    occlusion(model, images((21, 19, 3), count=3, seed=2), [2, 0, 1], **options)
    occlusion(model, images((21, 19, 3), count=1, seed=3), None, fill="mean", **options)
    assert steps.trace_count(model, "incremental") == traced


def operations_net(size=(29, 27)):
    """A model written with plain Keras operations where layers would do: `preprocess_input`'s
    `x / 127.5 - 1`, a per-channel mean subtracted, `h + 1.0`, `h * 0.5`, a residual `h + y`,
    `keras.ops.relu`, ConvNeXt's `LayerScale` and MobileNetV3's hard swish (`x + 3`, ReLU6,
    `* (1 / 6)`, a `Multiply` of a map by its own gate)."""
    inputs = keras.Input(size + (3,))
    x = inputs / 127.5 - 1.0
    x = x - np.array([0.1, -0.2, 0.3], np.float32)
    x = keras.layers.Conv2D(6, 3, strides=2, padding="same")(x)
    x = x + 1.0
    y = keras.layers.DepthwiseConv2D(3, padding="same")(x)
    (layer_scale,) = kinds.CHANNEL_SCALES
    y = layer_scale(0.5, 6)(y)
    x = keras.ops.relu(x + y) * 0.5
    gate = keras.layers.ReLU(6.0)(x + 3.0) * (1.0 / 6.0)
    x = keras.layers.Multiply()([x, gate])
    x = keras.layers.Conv2D(5, 3, strides=2, padding="same")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(4)(x), name="operations")


def test_operation_nodes_are_computed_on_regions():
    model = operations_net()
    part = local_part(model, (29, 27, 3))
    # Every call of the convolutional part is local, operations and LayerScale included.
    calls, _ = record_calls(model)
    assert sorted(type(calls[i][0]).__name__ for i in part.rest) == [
        "Dense", "GlobalAveragePooling2D"]
    x = images((29, 27, 3), count=2) * 255
    assert_same_maps(model, x, [1, 3], patch=6, stride=3)
    whole = occlusion(model, x, 1, patch=6, stride=3, normalize=False, incremental=False,
                      progress=False)
    approximate = occlusion(model, x, 1, patch=6, stride=3, normalize=False, approximate=1.0,
                            progress=False)
    np.testing.assert_allclose(approximate, whole, rtol=0, atol=1e-4 * np.ptp(whole))


@pytest.mark.applications
def test_an_operation_that_cannot_run_on_a_region_falls_back_and_true_says_which():
    # `preprocess_input` in "caffe" mode reorders the channels by slicing: not computed on regions.
    inputs = keras.Input((20, 20, 3))
    x = keras.applications.vgg16.preprocess_input(inputs)
    x = keras.layers.Conv2D(4, 3, activation="relu")(x)
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.GlobalMaxPooling2D()(x)))
    x = images((20, 20, 3), count=1) * 255
    whole = occlusion(model, x, 1, patch=4, stride=4, incremental=False, progress=False)
    np.testing.assert_array_equal(occlusion(model, x, 1, patch=4, stride=4, progress=False),
                                  whole)
    with pytest.raises(ValueError, match=r"'get_item', is a GetItem") as raised:
        occlusion(model, x, 1, patch=4, stride=4, incremental=True)
    assert "\n" not in str(raised.value)
