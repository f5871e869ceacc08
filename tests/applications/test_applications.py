"""Attribution on real architectures: keras.applications models (random weights, small inputs) and a
VGG16 base nested in a transfer-learning Sequential model. Each model is built once per module."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers.state import assert_model_unchanged, model_state, signed_gradient
from helpers.method_cases import CASES, call

from keras_vis import last_conv_layer, objectives, registry, rules
from keras_vis.attribution import (cam, deeplift, gradcam, gradient_shap, guided_gradcam, lrp,
                                   occlusion, saliency)
from keras_vis.layers import layer_of

pytestmark = pytest.mark.applications

SIZE = 64  # big enough for a 2×2 last feature map in every model, small enough to run fast


def transfer_vgg16():
    base = keras.applications.VGG16(weights=None, include_top=False, input_shape=(SIZE, SIZE, 3))
    head = [keras.layers.GlobalAveragePooling2D(), keras.layers.Dropout(0.2),
            keras.layers.Dense(4, activation="softmax")]
    return keras.Sequential([keras.Input((SIZE, SIZE, 3)), base] + head, name="transfer")


BUILDERS = {
    "VGG16": lambda: keras.applications.VGG16(weights=None, input_shape=(SIZE, SIZE, 3), classes=5),
    "ResNet50V2": lambda: keras.applications.ResNet50V2(weights=None, input_shape=(SIZE, SIZE, 3),
                                                        classes=5),
    "MobileNetV2": lambda: keras.applications.MobileNetV2(weights=None, input_shape=(SIZE, SIZE, 3),
                                                          classes=5),
    "EfficientNetB0": lambda: keras.applications.EfficientNetB0(
        weights=None, input_shape=(SIZE, SIZE, 3), classes=5),
    "transfer VGG16": transfer_vgg16,
}
# Families the relevance methods must cover as well: bottleneck ResNets, dense connections.
RELEVANCE_BUILDERS = {
    **BUILDERS,
    "ResNet50": lambda: keras.applications.ResNet50(weights=None, input_shape=(SIZE, SIZE, 3),
                                                    classes=5),
    "DenseNet121": lambda: keras.applications.DenseNet121(weights=None,
                                                          input_shape=(SIZE, SIZE, 3), classes=5),
}
LAST_CONV = {"VGG16": "block5_conv3", "ResNet50V2": "post_relu", "MobileNetV2": "out_relu",
             "EfficientNetB0": "top_activation", "transfer VGG16": "block5_conv3"}


@pytest.fixture(scope="module")
def models():
    built = {}

    def get(name):
        if name not in built:
            keras.utils.set_random_seed(0)
            built[name] = RELEVANCE_BUILDERS[name]()
        return built[name]

    return get


@pytest.fixture(scope="module")
def images():
    # Pixels in [0, 255]: the input range these models' own preprocessing expects.
    return np.random.default_rng(0).uniform(0, 255, (2, SIZE, SIZE, 3)).astype(np.float32)


def check_maps(maps):
    assert maps.shape == (2, SIZE, SIZE) and maps.dtype == np.float32
    assert np.all(np.isfinite(maps)) and maps.min() >= 0 and maps.max() <= 1


# Swish and squeeze-and-excitation (EfficientNet) and pre-activation blocks (ResNet50V2) run every
# technique in `test_application_sweep.py`'s slow sweep; MobileNetV3's gates run by default there.
@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.slow) if n in ("EfficientNetB0", "ResNet50V2") else n
    for n in sorted(BUILDERS)])
def test_saliency_and_gradcam(name, models, images):
    model = models(name)
    assert last_conv_layer(model).name == LAST_CONV[name]
    before = model_state(model)
    salient = saliency(model, images, [0, 3])
    check_maps(salient)
    assert np.all(salient.max(axis=(1, 2)) == 1.0)  # also where untrained gradients are ~1e-13
    maps = gradcam(model, images, [0, 3], normalize=False)
    assert maps.shape == (2, SIZE, SIZE) and np.all(np.isfinite(maps))
    check_maps(gradcam(model, images, [0, 3]))
    assert_model_unchanged(model, before)


def test_vgg16_guided_methods_and_occlusion(models, images):
    model = models("VGG16")
    check_maps(saliency(model, images, 1, method="guided"))
    check_maps(guided_gradcam(model, images, 1))
    check_maps(occlusion(model, images, 1, patch=16, stride=16, fill="mean"))
    with pytest.raises(ValueError, match="global average pooling"):
        cam(model, images, method="cam")  # VGG16's top is Flatten -> Dense -> Dense -> Dense


@pytest.mark.parametrize("name", ["MobileNetV2", "transfer VGG16"])
def test_cam_equals_gradcam_on_gap_dense_heads(name, models, images):
    # MobileNetV2 ends out_relu -> GAP -> predictions; the transfer model pools its nested base.
    model = models(name)
    layer = "block5_pool" if name == "transfer VGG16" else None
    np.testing.assert_allclose(cam(model, images, [2, 0], method="cam"),
                               gradcam(model, images, [2, 0], layer=layer), rtol=1e-4, atol=1e-4)


def test_nested_base_scorecam_and_layer_paths(models, images):
    model = models("transfer VGG16")
    before = model_state(model)
    check_maps(cam(model, images, 3, method="scorecam", max_maps=4))
    np.testing.assert_array_equal(gradcam(model, images, 3, layer="vgg16/block5_conv3"),
                                  gradcam(model, images, 3))
    assert_model_unchanged(model, before)


# The heaviest families (hundreds of layers to trace) run with `-m slow`; the relevance rules of
# every family are covered without tracing below. Every method runs on every family in
# `test_application_sweep.py`'s slow sweep; the VGG16 base nested in a transfer model keeps them
# in the default run.
HEAVY = {"DenseNet121", "EfficientNetB0", "MobileNetV2", "ResNet50", "ResNet50V2", "VGG16"}

# Every class activation map and perturbation method of the registry, but classic CAM (it needs a
# GAP -> Dense head; see above), on every family and the nested transfer model.
PERTURBING_AND_CAM = [spec.name for spec in registry.METHODS
                      if spec.family in ("cam", "occlusion") and spec.name != "cam"]


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in HEAVY else n
                                  for n in sorted(BUILDERS)])
def test_every_cam_and_perturbation_method_gives_finite_maps(name, models, images):
    model = models(name)
    before = model_state(model)
    for method in PERTURBING_AND_CAM:
        maps = call(CASES[method], model, images, [0, 3])
        assert maps.shape == (2, SIZE, SIZE) and maps.dtype == np.float32, method
        assert np.all(np.isfinite(maps)) and maps.min() >= 0 and maps.max() <= 1, method
    assert_model_unchanged(model, before)


@pytest.mark.parametrize("name", sorted(RELEVANCE_BUILDERS))
def test_relevance_rules_cover_every_layer(name, models):
    """LRP's composites and DeepLIFT find a rule for every layer of every family: rescaling,
    normalization, squeeze-and-excitation gates, residual sums, concatenations, nested bases."""
    model = models(name)
    for composite in [rules.relevance_composite(c) for c in rules.COMPOSITES] + [rules.DEEPLIFT]:
        composite.plan(model, linear_head=True)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in HEAVY else n
                                  for n in sorted(RELEVANCE_BUILDERS)])
def test_relevance_methods_give_finite_maps(name, models, images):
    model = models(name)
    before = model_state(model)
    raw = lrp(model, images, [0, 3], normalize=False)
    assert raw.shape == (2, SIZE, SIZE) and np.all(np.isfinite(raw))
    for maps in (lrp(model, images, [0, 3]), deeplift(model, images, [0, 3]),
                 gradient_shap(model, images, 2, samples=2)):
        check_maps(maps)
    assert_model_unchanged(model, before)


@pytest.mark.parametrize("composite", ["epsilon_plus", "epsilon_plus_flat", "alpha1_beta0"])
def test_zplus_conserves_where_relevance_only_reaches_rectified_outputs(composite, models,
                                                                        images):
    """VGG16 as built has zero biases, and every convolution's output is rectified before the
    next layer reads it: an output that receives relevance has a positive contribution, so z⁺
    (α1β0) passes all of it on; the input's relevance is the logit to 1e-3, layer by layer."""
    model = models("VGG16")
    assert not any(np.any(layer.get_weights()[1]) for layer in model.layers
                   if getattr(layer, "use_bias", False))
    _, layers = lrp(model, images, [0, 3], composite=composite, normalize=False,
                    return_layers=True)
    assert np.all(np.abs(layers.score) > 1e-3)
    np.testing.assert_allclose(layers.shares, 1.0, atol=1e-3)


@pytest.mark.parametrize("name, layer", [("MobileNetV2", "block_13_expand_relu"),
                                         ("transfer VGG16", "vgg16/block4_conv3")])
def test_objectives_are_targets_on_real_graphs(name, layer, models, images):
    """A channel, a direction, a weighted sum and a neuron of an inner layer, nested bases
    included, explained as targets: each gradient is the one the objective's linearity gives, and
    the channel's the one taken by hand through the layer where Keras can tap it."""
    model = models(name)
    before = model_state(model)
    channel = signed_gradient(model, images, objectives.Channel(layer, 3))
    assert np.all(np.isfinite(channel)) and np.abs(channel).max() > 0
    channels = int(layer_of(model, layer).output.shape[-1])
    one_hot = np.eye(channels, dtype=np.float32)[3]
    scale = np.abs(channel).max()
    np.testing.assert_allclose(signed_gradient(model, images, objectives.direction(layer, one_hot)),
                               channel, atol=1e-4 * scale)
    other = signed_gradient(model, images, objectives.Channel(layer, 5))
    mixed = 2.0 * objectives.Channel(layer, 3) - objectives.Channel(layer, 5)
    np.testing.assert_allclose(signed_gradient(model, images, mixed), 2.0 * channel - other,
                               atol=1e-4 * scale)
    assert np.all(np.isfinite(saliency(model, images, objectives.Neuron(layer, 3))))
    if "/" not in layer:
        tapped = keras.Model(model.inputs, model.get_layer(layer).output)
        x = tf.constant(images)
        with tf.GradientTape() as tape:
            tape.watch(x)
            score = tf.reduce_mean(tapped(x, training=False)[..., 3], axis=[1, 2])
        by_hand = tape.gradient(score, x).numpy().sum(axis=-1)
        np.testing.assert_allclose(channel, by_hand, atol=1e-4 * scale)
    assert_model_unchanged(model, before)
