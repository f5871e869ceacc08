"""Ablation-CAM: the weight of a channel is the score lost when it is zeroed.

On `features -> GAP -> Dense` that drop is `W_kc mean(A_k)` exactly (CAM). Elsewhere the maps are
checked against a naive reference: the test's own forward function, written with the model's
layers, run in full once per channel with the layer's activations multiplied by a mask. Ablation-CAM
itself runs the layers below the layer once and only the layers above on the ablated copies.
"""

import keras
import numpy as np
import pytest
from helpers.cam import class_weights, features, gap_model, relu_sum
from helpers.state import assert_model_unchanged, model_state

from keras_vis import progress, steps
from keras_vis.attribution._maps import normalize as normalize_maps
from keras_vis.attribution.cam.ablationcam import AblationCAM, check_max_channels
from keras_vis.graph import Downstream
from keras_vis.objectives import Channel

L = keras.layers


def naive_ablation(forward, images, classes, channels):
    """Each channel's weight from full forward passes: `forward(images, mask)` returns the scores
    of all classes with the tapped activations multiplied by `mask` `(channels,)`."""
    rows = np.arange(len(images))
    full = forward(images, np.ones(channels, np.float32))
    classes = full.argmax(axis=1) if classes is None else np.asarray(classes)
    weights = np.zeros((len(images), channels), np.float32)
    for k in range(channels):
        mask = np.ones(channels, np.float32)
        mask[k] = 0.0
        weights[:, k] = full[rows, classes] - forward(images, mask)[rows, classes]
    return weights[:, None, None, :]


def logits_of(dense, x):
    return (x @ dense.kernel + dense.bias).numpy()


class Residual:
    """conv1 -> [conv2 -> BN -> ReLU ("inner", tapped) -> conv3] + conv1 -> ReLU -> GAP -> Dense.

    The tapped layer sits inside the residual block, so the layers above it read conv1's output,
    computed below it: the frontier.
    """

    def __init__(self):
        self.conv1 = L.Conv2D(4, 3, padding="same", activation="relu", name="conv1")
        self.conv2 = L.Conv2D(4, 3, padding="same", name="conv2")
        self.bn = L.BatchNormalization(name="bn")
        self.inner = L.ReLU(name="inner")
        self.conv3 = L.Conv2D(4, 3, padding="same", name="conv3")
        self.add = L.Add(name="add")
        self.out = L.ReLU(name="out")
        self.gap = L.GlobalAveragePooling2D(name="gap")
        self.dense = L.Dense(3, activation="softmax", name="dense")

    def block(self, x, mask=None):
        a = self.conv1(x)
        b = self.inner(self.bn(self.conv2(a), training=False))
        if mask is not None:
            b = b * mask
        return self.out(self.add([a, self.conv3(b)]))

    def model(self, size=8):
        inputs = keras.Input((size, size, 3))
        model = keras.Model(inputs, self.dense(self.gap(self.block(inputs))))
        rng = np.random.default_rng(1)
        self.bn.set_weights([rng.uniform(0.5, 1.5, 4), rng.normal(0, 0.3, 4),
                             rng.normal(0, 0.3, 4), rng.uniform(0.5, 2.0, 4)])
        return model

    def logits(self, images, mask):
        return logits_of(self.dense, self.gap(self.block(images, mask)))


def test_on_a_gap_dense_model_it_equals_cam(rng):
    model = gap_model()
    images = rng.random((4, 8, 8, 3), dtype=np.float32)
    a = features(model, "conv2", images)
    classes = [0, 2, 1, 1]
    expected = relu_sum(class_weights(model, classes) * a.mean(axis=(1, 2), keepdims=True), a)
    assert expected.max() > 0
    before = model_state(model)
    raw = AblationCAM()(model, images, classes, layer="conv2", normalize=False, batch_size=3)
    assert raw.dtype == np.float32 and raw.shape == (4, 8, 8)
    np.testing.assert_allclose(raw, expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(AblationCAM()(model, images, classes, layer="conv2"),
                               normalize_maps(expected), rtol=1e-4, atol=1e-5)
    assert_model_unchanged(model, before)


def test_the_default_target_scores_the_predicted_class(rng):
    model = gap_model()
    images = rng.random((3, 8, 8, 3), dtype=np.float32)
    predicted = model.predict(images, verbose=0).argmax(axis=1)
    np.testing.assert_allclose(AblationCAM()(model, images, layer="conv2", normalize=False),
                               AblationCAM()(model, images, predicted, layer="conv2",
                                             normalize=False), rtol=1e-6)


def test_scores_from_the_layer_onward_equal_full_passes_of_ablated_activations(rng):
    """A non-linear top (Flatten -> Dense(relu) -> Dense), scored as logits and as
    probabilities."""
    conv1 = L.Conv2D(3, 3, padding="same", activation="relu", name="conv1")
    conv2 = L.Conv2D(6, 3, padding="same", activation="relu", name="conv2")
    pool, flat = L.MaxPooling2D(name="pool"), L.Flatten(name="flat")
    hidden = L.Dense(8, activation="relu", name="hidden")
    dense = L.Dense(4, activation="softmax", name="dense")
    inputs = keras.Input((8, 8, 2))
    model = keras.Model(inputs, dense(hidden(flat(pool(conv2(conv1(inputs)))))))
    images = rng.normal(size=(3, 8, 8, 2)).astype(np.float32)
    a = features(model, "conv2", images)

    def top(images, mask):
        return hidden(flat(pool(conv2(conv1(images)) * mask)))

    for logits in (True, False):
        forward = ((lambda x, m: logits_of(dense, top(x, m))) if logits
                   else (lambda x, m: dense(top(x, m)).numpy()))
        weights = naive_ablation(forward, images, [3, 0, 1], 6)
        assert np.abs(weights).max() > 0
        got = AblationCAM()(model, images, [3, 0, 1], layer="conv2", logits=logits,
                            normalize=False, batch_size=5)
        np.testing.assert_allclose(got, relu_sum(weights, a), rtol=1e-4, atol=1e-6)


def test_a_layer_inside_a_residual_block_gets_the_skip_from_below(rng):
    residual = Residual()
    model = residual.model()
    downstream = Downstream(model, model.get_layer("inner"))
    assert downstream.frontier == [(model.get_layer("conv1"), 0)]
    images = rng.normal(size=(3, 8, 8, 3)).astype(np.float32)
    a = features(model, "inner", images)
    weights = naive_ablation(residual.logits, images, [2, 1, 0], 4)
    assert np.abs(weights).max() > 0
    before = model_state(model)
    got = AblationCAM()(model, images, [2, 1, 0], layer="inner", normalize=False, batch_size=4)
    np.testing.assert_allclose(got, relu_sum(weights, a), rtol=1e-4, atol=1e-5)
    assert_model_unchanged(model, before)


def test_a_skip_from_the_model_input_is_fed_the_images(rng):
    conv1 = L.Conv2D(3, 3, padding="same", activation="relu", name="conv1")
    concat = L.Concatenate(name="concat")
    conv2 = L.Conv2D(4, 3, padding="same", activation="relu", name="conv2")
    gap, dense = L.GlobalAveragePooling2D(), L.Dense(3, name="dense")
    inputs = keras.Input((6, 6, 2))
    model = keras.Model(inputs, dense(gap(conv2(concat([conv1(inputs), inputs])))))
    downstream = Downstream(model, model.get_layer("conv1"))
    assert downstream.frontier == [(None, 0)]
    images = rng.normal(size=(2, 6, 6, 2)).astype(np.float32)

    def forward(x, mask):
        return dense(gap(conv2(concat([conv1(x) * mask, x])))).numpy()

    weights = naive_ablation(forward, images, [0, 2], 3)
    got = AblationCAM()(model, images, [0, 2], layer="conv1", normalize=False)
    np.testing.assert_allclose(got, relu_sum(weights, features(model, "conv1", images)),
                               rtol=1e-4, atol=1e-5)


def test_a_layer_of_a_base_nested_in_a_transfer_model(rng):
    residual = Residual()
    base = residual.model(size=8)
    head = L.Dense(2, activation="softmax", name="head")
    model = keras.Sequential([keras.Input((8, 8, 3)), base, L.Dense(5, name="extra"), head])
    images = rng.normal(size=(3, 8, 8, 3)).astype(np.float32)
    extra = model.get_layer("extra")

    def forward(x, mask):
        return logits_of(head, extra(residual.dense(residual.gap(residual.block(x, mask)))))

    inner = keras.Model(base.inputs[0], base.get_layer("inner").output)
    weights = naive_ablation(forward, images, None, 4)
    assert np.abs(weights).max() > 0
    before = model_state(model)
    got = AblationCAM()(model, images, layer="inner", normalize=False, batch_size=2)
    np.testing.assert_allclose(got, relu_sum(weights, inner(images).numpy()), rtol=1e-4,
                               atol=1e-5)
    assert_model_unchanged(model, before)


def test_max_channels_ablates_the_channels_of_largest_mean_activation(rng):
    model = gap_model()
    images = rng.random((3, 8, 8, 3), dtype=np.float32)
    a = features(model, "conv2", images)
    kernel = model.get_layer("dense").kernel.numpy()
    classes = [1, 0, 2]
    weights = kernel[:, classes].T * a.mean(axis=(1, 2))
    top = np.argsort(-a.mean(axis=(1, 2)), axis=1, kind="stable")[:, :2]
    kept = np.zeros_like(weights)
    np.put_along_axis(kept, top, np.take_along_axis(weights, top, 1), 1)
    got = AblationCAM(max_channels=2)(model, images, classes, layer="conv2", normalize=False)
    np.testing.assert_allclose(got, relu_sum(kept[:, None, None, :], a), rtol=1e-4, atol=1e-6)
    every = AblationCAM()(model, images, classes, layer="conv2", normalize=False)
    for max_channels in ("all", 5, 99):
        np.testing.assert_allclose(
            AblationCAM(max_channels=max_channels)(model, images, classes, layer="conv2",
                                                   normalize=False), every, rtol=1e-6)


def test_a_channel_target_above_the_layer(rng):
    """Channel j of a linear 1×1 convolution `V` above the layer scores `mean(sum_k V_kj A_k)`:
    zeroing channel k drops it by `V_kj mean(A_k)`."""
    inputs = keras.Input((6, 6, 3))
    a = L.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    mixed = L.Conv2D(2, 1, use_bias=False, name="mix")(a)
    model = keras.Model(inputs, L.Dense(3)(L.GlobalAveragePooling2D()(mixed)))
    images = rng.random((2, 6, 6, 3), dtype=np.float32)
    acts = features(model, "conv", images)
    mix = model.get_layer("mix").kernel.numpy()[0, 0]  # (4, 2)
    expected = relu_sum(mix[:, 1] * acts.mean(axis=(1, 2), keepdims=True), acts)
    got = AblationCAM()(model, images, Channel("mix", 1), layer="conv", normalize=False)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)


def test_copies_are_batched_without_retracing(rng):
    model = gap_model()
    images = rng.random((5, 8, 8, 3), dtype=np.float32)
    first = AblationCAM()(model, images, [0, 1, 2, 0, 1], layer="conv2", batch_size=7)
    assert steps.trace_count(model, "ablationcam") == 1
    traces = steps.trace_count(model)
    for batch_size in (1, 4, 100):
        np.testing.assert_allclose(
            AblationCAM()(model, images, [0, 1, 2, 0, 1], layer="conv2", batch_size=batch_size),
            first, rtol=1e-5, atol=1e-6)
    AblationCAM(max_channels=3)(model, images, [2, 2, 1, 0, 0], layer="conv2")
    AblationCAM()(model, images[:2], layer="conv2")
    assert steps.trace_count(model) == traces


def test_a_long_job_shows_its_bar(rng, capsys, monkeypatch):
    monkeypatch.setattr(progress, "DELAY", 0.0)
    model = gap_model()
    images = rng.random((2, 8, 8, 3), dtype=np.float32)
    AblationCAM()(model, images, layer="conv2", batch_size=4)
    assert "Ablation-CAM [" in capsys.readouterr().err
    AblationCAM()(model, images, layer="conv2", progress=False)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("value, error", [(0, ValueError), (-2, ValueError), ("some", ValueError),
                                          (1.5, TypeError), (True, TypeError)])
def test_bad_max_channels(value, error):
    with pytest.raises(error, match="Expected `max_channels` to be"):
        AblationCAM(max_channels=value)
    assert check_max_channels(None) == check_max_channels("all") == "all"
    assert check_max_channels(np.int64(3)) == 3


def test_a_layer_the_score_does_not_depend_on():
    inputs = keras.Input((6, 6, 3))
    a = L.Conv2D(2, 3, name="left")(inputs)
    b = L.Conv2D(2, 3, name="right")(inputs)
    model = keras.Model(inputs, [L.Dense(2)(L.Flatten()(a)), L.Dense(2)(L.Flatten()(b))])
    images = np.ones((1, 6, 6, 3), np.float32)
    with pytest.raises(ValueError, match="a layer the target's score is computed from"):
        AblationCAM()(model, images, 0, layer="right")


def test_a_layer_called_twice_is_refused():
    shared = L.Conv2D(3, 3, padding="same", name="shared")
    inputs = keras.Input((6, 6, 3))
    x = shared(L.Conv2D(3, 1)(inputs))
    x = shared(x)
    model = keras.Model(inputs, L.Dense(2)(L.GlobalAveragePooling2D()(x)))
    with pytest.raises(ValueError, match="calls once"):
        AblationCAM()(model, np.ones((1, 6, 6, 3), np.float32), 0, layer="shared")


def test_cam_takes_the_method_and_max_channels(rng):
    from keras_vis.attribution import cam

    model = gap_model()
    images = rng.random((2, 8, 8, 3), dtype=np.float32)
    for max_channels in (None, 2):
        np.testing.assert_allclose(
            cam(model, images, [0, 1], layer="conv2", method="ablationcam",
                max_channels=max_channels),
            AblationCAM(max_channels=max_channels)(model, images, [0, 1], layer="conv2"))


def test_a_region_target_of_a_segmentation_model(rng):
    """`Region(c, mask)` scores `sum mask * (sum_k V_kc A_k + b_c)` through a 1×1 convolution
    `V`: zeroing channel k drops it by `V_kc sum(mask * A_k)`."""
    from keras_vis.targets import Region

    inputs = keras.Input((6, 6, 3))
    a = L.Conv2D(4, 3, padding="same", activation="relu", name="features")(inputs)
    model = keras.Model(inputs, L.Conv2D(2, 1, activation="softmax", name="seg")(a))
    images = rng.random((2, 6, 6, 3), dtype=np.float32)
    mask = np.zeros((6, 6), np.float32)
    mask[1:4, 2:5] = 1.0
    acts = features(model, "features", images)
    v = model.get_layer("seg").kernel.numpy()[0, 0]  # (4, 2)
    drop = v[:, 1] * (acts * mask[None, :, :, None]).sum(axis=(1, 2))
    got = AblationCAM()(model, images, Region(1, mask=mask), layer="features", normalize=False)
    np.testing.assert_allclose(got, relu_sum(drop[:, None, None, :], acts), rtol=1e-4,
                               atol=1e-5)


def test_the_copies_run_only_the_layers_above_the_layer(rng):
    """The ablated copies' compiled step holds conv3 (above `inner`), not conv1 or conv2 (below
    it: conv1's output is fed as the skip)."""
    from keras_vis.attribution.cam.ablationcam import AblationStep
    from keras_vis.targets import Class

    model = Residual().model()
    step = AblationStep(model, model.get_layer("inner"), Class(), "linear")
    activations = rng.random((3, 8, 8, 4), dtype=np.float32)
    skip = rng.random((3, 8, 8, 4), dtype=np.float32)
    step(activations, np.array([-1, 0, 3], np.int32), [skip], np.zeros(3, np.int32))
    (compiled,) = step._steps.values()
    ops = [op.type for op in compiled.concrete().graph.get_operations()]
    assert ops.count("Conv2D") == 1 and "MatMul" in ops


def test_a_channel_target_below_the_layer_is_refused(rng):
    model = gap_model()
    with pytest.raises(ValueError, match="computed from layer 'conv2'"):
        AblationCAM()(model, rng.random((1, 8, 8, 3), dtype=np.float32), Channel("conv1", 0),
                      layer="conv2")
