"""Known answers for class activation maps: CAM, Grad-CAM, Grad-CAM++, LayerCAM, HiResCAM, Score-CAM
and guided Grad-CAM.

On `features -> GAP -> Dense` the logit's gradient with respect to the features is `W[:, c] / (h w)`
at every position, and on `features -> Flatten -> Dense` it is the reshaped weight column: every
gradient-based variant then has a closed form, computed here from the weights.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers.cam import class_weights, features, gap_model, relu_sum
from helpers.models import flatten_cnn
from helpers.state import assert_model_unchanged, model_state

from keras_vis import engine
from keras_vis.attribution import cam, gradcam, guided_gradcam, saliency
from keras_vis.attribution._maps import normalize as normalize_maps
from keras_vis.objectives import Channel, Neuron

GRADIENT_METHODS = ["gradcam", "gradcam++", "layercam", "hirescam"]


def gradcampp_weights(g, activations):
    """The Grad-CAM++ paper's closed form: alpha = g^2 / (2 g^2 + sum_ab A_ab g^3)."""
    s = activations.sum(axis=(1, 2), keepdims=True)
    denominator = 2 * g**2 + s * g**3
    alpha = np.where(g != 0, g**2 / np.where(denominator == 0, 1, denominator), 0)
    return (alpha * np.maximum(g, 0)).sum(axis=(1, 2), keepdims=True)


def reference_maps(method, activations, g):
    """Each variant from its definition, given the activations and the gradient dS/dA."""
    if method == "gradcam":
        return relu_sum(g.mean(axis=(1, 2), keepdims=True), activations)
    if method == "hirescam":
        return relu_sum(g, activations)
    if method == "layercam":
        return relu_sum(np.maximum(g, 0), activations)
    return relu_sum(gradcampp_weights(g, activations), activations)


def test_gradcam_equals_cam_on_gap_dense_model(rng):
    model = gap_model()
    images = rng.random((4, 8, 8, 3), dtype=np.float32)
    a = features(model, "conv2", images)
    classes = [0, 2, 1, 1]
    expected_cam = relu_sum(class_weights(model, classes), a)
    raw_cam = cam(model, images, classes, method="cam", normalize=False)
    np.testing.assert_allclose(raw_cam, expected_cam, rtol=1e-5, atol=1e-6)
    # The gradient is W / (h w) everywhere, so the raw maps differ by exactly h w = 64.
    raw_gradcam = gradcam(model, images, classes, normalize=False)
    np.testing.assert_allclose(raw_gradcam * 64, raw_cam, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gradcam(model, images, classes),
                               cam(model, images, classes, method="cam"), rtol=1e-5, atol=1e-5)
    assert expected_cam.max() > 0


@pytest.mark.parametrize("build, layer, shape",
                         [(gap_model, "conv2", (8, 8)), (flatten_cnn, "conv", (6, 6))])
def test_gradient_variants_match_their_definitions(build, layer, shape, rng):
    model = build()
    images = rng.random((3,) + tuple(model.inputs[0].shape[1:]), dtype=np.float32)
    a = features(model, layer, images)
    classes = [1, 0, 2]
    if build is gap_model:
        g = np.broadcast_to(class_weights(model, classes) / a[0, ..., 0].size, a.shape)
    else:
        g = model.get_layer("dense").kernel.numpy()[:, classes].T.reshape(a.shape)
    before = model_state(model)
    for method in GRADIENT_METHODS:
        got = cam(model, images, classes, method=method, normalize=False)
        want = reference_maps(method, a, g)
        assert got.shape == (3,) + shape and got.dtype == np.float32
        assert want.max() > 0, method
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6, err_msg=method)
        np.testing.assert_allclose(cam(model, images, classes, method=method), normalize_maps(want),
                                   rtol=1e-4, atol=1e-5, err_msg=method)
    assert_model_unchanged(model, before)


def test_maps_are_upsampled_bilinearly_to_the_input(rng):
    model = gap_model(pool=True)
    images = rng.random((2, 8, 8, 3), dtype=np.float32)
    a = features(model, "conv2", images)  # 4×4 maps
    low = relu_sum(class_weights(model, [2, 2]), a)
    expected = tf.image.resize(low[..., None], (8, 8), method="bilinear").numpy()[..., 0]
    np.testing.assert_allclose(cam(model, images, 2, method="cam", normalize=False), expected,
                               rtol=1e-5, atol=1e-6)


def test_predicted_class_is_the_default_target(rng):
    model = gap_model()
    images = rng.random((5, 8, 8, 3), dtype=np.float32)
    predicted = list(model.predict(images, verbose=0).argmax(-1))
    for method in ["gradcam", "cam", "scorecam"]:
        np.testing.assert_allclose(cam(model, images, method=method),
                                   cam(model, images, predicted, method=method), rtol=1e-6,
                                   err_msg=method)


def naive_scorecam(model, images, classes, layer, channels=None):
    """One model call per image and channel; the layer is at input resolution, so no resizing."""
    a = features(model, layer, images)
    maps = np.zeros(a.shape[:3], np.float32)
    for n, (image, c) in enumerate(zip(images, classes)):
        weights = np.zeros(a.shape[-1])
        for k in channels[n] if channels is not None else range(a.shape[-1]):
            span = a[n, ..., k].max() - a[n, ..., k].min()
            if span == 0:
                continue
            mask = (a[n, ..., k] - a[n, ..., k].min()) / span
            weights[k] = model(image[None] * mask[None, :, :, None]).numpy()[0, c]
        maps[n] = np.maximum((a[n] * weights).sum(-1), 0)
    return maps


def one_channel_model():
    """1×1 conv: channel 0 = relu(x) sees bright pixels, channel 1 = relu(-x) dark ones; GAP; the
    dense layer routes channel k to class k only."""
    inputs = keras.Input((8, 8, 1))
    conv = keras.layers.Conv2D(2, 1, activation="relu", name="detect")
    dense = keras.layers.Dense(2, activation="softmax", name="dense")
    model = keras.Model(inputs, dense(keras.layers.GlobalAveragePooling2D()(conv(inputs))))
    conv.set_weights([np.array([1.0, -1.0], np.float32).reshape(1, 1, 1, 2),
                      np.zeros(2, np.float32)])
    dense.set_weights([np.diag([40.0, 40.0]).astype(np.float32), np.zeros(2, np.float32)])
    return model


def test_scorecam_puts_the_mass_on_the_channel_that_carries_the_class():
    model = one_channel_model()
    image = np.zeros((1, 8, 8, 1), np.float32)
    image[0, :3, :3] = 1.0  # bright square, seen by channel 0 (class 0)
    image[0, 5:, 5:] = -1.0  # dark square, seen by channel 1 (class 1)
    bright = np.zeros((8, 8), bool)
    bright[:3, :3] = True
    for target, region in [(0, bright), (1, np.rot90(bright, 2))]:
        raw = cam(model, image, target, method="scorecam", fill=0.0, normalize=False)
        np.testing.assert_allclose(raw, naive_scorecam(model, image, [target], "detect"), rtol=1e-5)
        # Masking by the class's own channel keeps logit 40 * 9/64 for it: probability 0.9964.
        share = raw[0][region].sum() / raw[0].sum()
        assert share == pytest.approx(1 / (1 + np.exp(-40 * 9 / 64)), rel=1e-4)


def test_scorecam_matches_a_naive_loop_and_top_variance_channels(rng):
    model = gap_model()
    images = rng.random((3, 8, 8, 3), dtype=np.float32)
    classes = [2, 0, 1]
    np.testing.assert_allclose(
        cam(model, images, classes, method="scorecam", fill=0.0, normalize=False, batch_size=4),
        naive_scorecam(model, images, classes, "conv2"), rtol=1e-5, atol=1e-6,
    )
    top = np.argsort(-features(model, "conv2", images).var(axis=(1, 2)), axis=1)[:, :2]
    np.testing.assert_allclose(
        cam(model, images, classes, method="scorecam", max_maps=2, fill=0.0, normalize=False),
        naive_scorecam(model, images, classes, "conv2", channels=top), rtol=1e-5, atol=1e-6,
    )


def test_guided_gradcam_is_the_product_of_its_parts(rng):
    model = gap_model(pool=True)
    images = rng.random((3, 8, 8, 3), dtype=np.float32)
    guided = saliency(model, images, [0, 1, 2], method="guided", normalize=False)
    coarse = gradcam(model, images, [0, 1, 2], normalize=False)
    raw = guided_gradcam(model, images, [0, 1, 2], normalize=False)
    np.testing.assert_allclose(raw, guided * coarse, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(guided_gradcam(model, images, [0, 1, 2]),
                               normalize_maps(guided * coarse), rtol=1e-5, atol=1e-6)
    assert raw.max() > 0


def nested_model():
    base = keras.Sequential(
        [keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, activation="relu", name="base_conv1"),
         keras.layers.Conv2D(5, 3, padding="same", activation="relu", name="base_conv2")],
        name="base",
    )
    model = keras.Sequential([keras.Input((8, 8, 3)), base, keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(3, activation="softmax", name="dense")])
    return model, base


def test_nested_base_model_layers(rng):
    model, base = nested_model()
    images = rng.random((2, 8, 8, 3), dtype=np.float32)
    a = keras.Model(base.inputs[0], base.get_layer("base_conv2").output)(images).numpy()
    low = relu_sum(class_weights(model, [1, 1]), a)  # 6×6 maps
    expected = tf.image.resize(low[..., None], (8, 8), method="bilinear").numpy()[..., 0]
    for options in [dict(method="cam"), dict(method="cam", layer="base/base_conv2"),
                    dict(layer=None), dict(layer="base_conv2"),
                    dict(layer=base.get_layer("base_conv2"))]:
        got = cam(model, images, 1, normalize=False, **options)
        scale = 1 if options.get("method") == "cam" else 36  # Grad-CAM: W / (h w)
        np.testing.assert_allclose(got * scale, expected, rtol=1e-5, atol=1e-6,
                                   err_msg=str(options))


def test_repeated_calls_reuse_one_compiled_step(rng):
    model = gap_model()
    layer = model.get_layer("conv2")
    gradcam(model, rng.random((3, 8, 8, 3), dtype=np.float32), 0, batch_size=2)
    gradcam(model, rng.random((5, 8, 8, 3), dtype=np.float32), [0, 1, 2, 0, 1])
    gradcam(model, rng.random((1, 8, 8, 3), dtype=np.float32), None)
    step = engine.get_engine(model, [layer], None, head="linear", input_grads=False, tap_grads=True)
    assert step.trace_count == 1


def test_bad_arguments_raise_clear_errors(rng):
    model = gap_model()
    images = rng.random((2, 8, 8, 3), dtype=np.float32)
    before = model_state(model)
    with pytest.raises(ValueError, match=r"spatial output.*last_conv_layer.*'conv2'"):
        cam(model, images, layer="dense")
    with pytest.raises(ValueError, match="global average pooling followed by one dense"):
        cam(flatten_cnn(), rng.random((1, 6, 6, 2), dtype=np.float32), method="cam")
    with pytest.raises(ValueError, match="layer feeding the global average pooling.*'conv2'"):
        cam(model, images, method="cam", layer="conv1")
    with pytest.raises(ValueError, match="class"):
        cam(model, images, lambda logits: logits[:, 0], method="cam")
    with pytest.raises(ValueError, match="max_maps"):
        cam(model, images, method="gradcam", max_maps=3)
    with pytest.raises(ValueError, match="max_maps"):
        cam(model, images, method="scorecam", max_maps=0)
    with pytest.raises(ValueError, match="method"):
        cam(model, images, method="grad-cam")
    with pytest.raises(ValueError, match="name a layer.*Did you mean"):
        cam(model, images, layer="conv3")
    with pytest.raises(ValueError, match="finite"):
        gradcam(model, np.full((1, 8, 8, 3), np.nan, np.float32))
    with pytest.raises(TypeError, match="logits"):
        cam(model, images, logits="yes")
    assert_model_unchanged(model, before)


def transfer_base():
    """A tiny pretrained-style base: its own `Input`, called again when nested."""
    inputs = keras.Input((8, 8, 3), name="img")
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="base_conv1")(inputs)
    x = keras.layers.Conv2D(5, 3, padding="same", activation="relu", bias_initializer="ones",
                            name="base_conv2")(x)
    return keras.Model(inputs, x, name="base")


def test_cam_finds_the_head_of_a_built_or_reloaded_transfer_model(tmp_path, rng):
    from keras_vis.attribution.cam.classic import gap_dense_head
    from keras_vis.layers import last_conv_layer
    from keras_vis.attribution.cam.classic import unavailable

    built = keras.Sequential([transfer_base(), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(5, activation="softmax")])
    built.build((None, 8, 8, 3))
    built.save(tmp_path / "transfer.keras")
    reloaded = keras.models.load_model(tmp_path / "transfer.keras")
    images = rng.random((2, 8, 8, 3), dtype=np.float32)
    for model in (built, reloaded):
        base, _, dense = model.layers
        features, head = gap_dense_head(model)
        assert features is base.get_layer("base_conv2") is last_conv_layer(model)
        assert head is dense
        assert unavailable(model) is None
        assert unavailable(model, layer=features.name) is None
        assert unavailable(model, layer=features) is None
        assert "base_conv2" in unavailable(model, layer="base_conv1")
        a = keras.Model(base.inputs[0], features.output)(images).numpy()
        expected = relu_sum(dense.kernel.numpy()[:, [1, 1]].T[:, None, None, :], a)
        np.testing.assert_allclose(cam(model, images, 1, method="cam", normalize=False), expected,
                                   rtol=1e-5, atol=1e-6)
        # On GAP -> Dense, CAM is Grad-CAM up to the scale h w, which normalizing removes.
        np.testing.assert_allclose(cam(model, images, 1, method="cam"), gradcam(model, images, 1),
                                   rtol=1e-5, atol=1e-5)


def test_an_input_layer_as_cam_layer_is_refused_as_having_no_feature_maps(rng):
    model = gap_model()
    images = rng.random((1, 8, 8, 3), dtype=np.float32)
    name = model.layers[0].name
    for method in ["gradcam", "cam"]:
        with pytest.raises(ValueError, match=rf"input layer.*no feature maps.*"
                                             rf"`keras_vis.last_conv_layer\(model\)` \('conv2'"):
            cam(model, images, 0, layer=name, method=method)
    # Every target that taps a layer says the same.
    for target in [Channel(name, 0), Neuron(name, 0, (1, 1))]:
        with pytest.raises(ValueError, match=r"input layer.*no feature maps"):
            saliency(model, images, target)
