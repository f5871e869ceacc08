"""The model-parameter randomization sanity check, on tiny models whose weights the test can read."""

import keras
import numpy as np
import pytest
import scipy.stats
import skimage.metrics
from helpers.state import assert_model_unchanged, model_state

from keras_vis.attribution import saliency
from keras_vis.metrics import randomization_check
from keras_vis.metrics.randomization import reinitialize


@pytest.fixture
def conv_dense():
    """6×6×2 → conv(2, 3×3, same) → flatten → dense(3): every weight can be read back by the test."""
    inputs = keras.Input((6, 6, 2))
    x = keras.layers.Conv2D(2, 3, padding="same", name="conv",
                            bias_initializer=keras.initializers.Constant(0.25))(inputs)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="dense")(x)
    model = keras.Model(inputs, outputs)
    model.get_layer("conv").set_weights([w + 1.0 for w in model.get_layer("conv").get_weights()])
    return model


def _recording_method(calls):
    """A method whose map is an exact function of the weights it is given: |∂logit/∂input| for the
    conv → flatten → dense model (both linear), summed over channels. It records what it saw."""

    def method(model, images, target):
        weights = [w.copy() for w in model.get_weights()]
        calls.append({"weights": weights, "target": np.array(target)})
        kernel, _, dense, _ = weights
        dense = dense.reshape(6, 6, 2, 3)[..., target]  # (6, 6, 2, N): gradient at the conv output
        padded = np.pad(dense, ((1, 1), (1, 1), (0, 0), (0, 0)))
        gradient = np.zeros((len(images), 6, 6, 2))
        for dy in range(3):
            for dx in range(3):
                window = padded[2 - dy:8 - dy, 2 - dx:8 - dx]  # (6, 6, out, N)
                gradient += np.einsum("yxon,io->nyxi", window, kernel[dy, dx])
        return np.abs(gradient).sum(axis=-1).astype("float32")

    return method


def test_cascading_randomization_reinitializes_top_down_and_measures_each_step(conv_dense, rng):
    images = rng.uniform(size=(4, 6, 6, 2)).astype("float32")
    before = model_state(conv_dense)
    calls = []
    result = randomization_check(conv_dense, _recording_method(calls), images, seed=3)
    assert result.layers == ("dense", "conv")
    assert len(calls) == 4  # the original model, the unrandomized copy, then one call per layer
    original, copy, top, both = (call["weights"] for call in calls)
    predicted = conv_dense.predict(images, verbose=0).argmax(axis=1)
    for call in calls:
        np.testing.assert_array_equal(call["target"], predicted)  # always the original's classes
    for a, b in zip(original, copy):
        np.testing.assert_array_equal(a, b)
    # Step 1 changes only the dense layer, step 2 also the conv layer; dense keeps its step-1 draw.
    np.testing.assert_array_equal(top[0], original[0])
    assert not np.allclose(top[2], original[2])
    np.testing.assert_array_equal(both[2], top[2])
    assert not np.allclose(both[0], original[0])
    limit = np.sqrt(6 / (3 * 3 * 2 + 3 * 3 * 2))  # Glorot uniform: the layer's own initializer
    assert np.all(np.abs(both[0]) <= limit)
    np.testing.assert_array_equal(both[1], [0.25, 0.25])  # its own bias initializer, not zeros
    np.testing.assert_array_equal(top[3], np.zeros(3))
    assert_model_unchanged(conv_dense, before)

    maps = result.maps
    assert maps.shape == (3, 4, 6, 6) and maps.dtype == np.float32
    for step in range(3):
        for n in range(4):
            expected = scipy.stats.spearmanr(maps[0, n].ravel(), maps[step, n].ravel()).statistic
            assert result.spearman[step, n] == pytest.approx(expected, abs=1e-6)
            a, b = maps[0, n] / maps[0, n].max(), maps[step, n] / maps[step, n].max()
            expected = skimage.metrics.structural_similarity(a, b, data_range=1.0, win_size=5)
            assert result.ssim[step, n] == pytest.approx(expected, abs=1e-5)
    np.testing.assert_allclose(result.spearman[0], 1.0)
    np.testing.assert_allclose(result.ssim[0], 1.0, atol=1e-6)
    np.testing.assert_allclose(result.mean_spearman, result.spearman.mean(axis=1))


def test_verdicts_threshold_and_table(conv_dense, rng):
    images = rng.uniform(size=(3, 6, 6, 2)).astype("float32")
    result = randomization_check(conv_dense, _recording_method([]), images, threshold=0.5)
    expected = ["stays" if r >= 0.5 else "changes" for r in result.mean_spearman]
    assert list(result.verdicts) == expected and result.verdicts[0] == "stays"
    assert result.passed == (expected[-1] == "changes")
    text = str(result)
    assert "randomized down to" in text and "(none)" in text and "dense" in text and "conv" in text
    assert [row[0] for row in result.rows()] == ["(none)", "dense", "conv"]
    always = randomization_check(conv_dense, _recording_method([]), images, threshold=-1)
    assert always.verdicts == ("stays",) * 3 and not always.passed and "FAILED" in str(always)


def test_the_same_seed_gives_the_same_randomized_maps(conv_dense, rng):
    images = rng.uniform(size=(2, 6, 6, 2)).astype("float32")
    first, second, other = (randomization_check(conv_dense, "saliency", images, seed=seed)
                            for seed in (1, 1, 2))
    np.testing.assert_array_equal(first.maps, second.maps)
    assert not np.allclose(first.maps[1:], other.maps[1:])


def test_named_method_on_a_cnn_every_weighted_layer_top_down(tiny_cnn, rng):
    images = rng.uniform(size=(3, 16, 16, 3)).astype("float32")
    before = model_state(tiny_cnn)
    result = randomization_check(tiny_cnn, "saliency", images, batch_size=2)
    assert result.layers == ("predictions", "conv2", "conv1")
    np.testing.assert_allclose(result.maps[0], saliency(tiny_cnn, images), atol=1e-6)
    np.testing.assert_allclose(result.spearman[0], 1.0, atol=1e-6)
    assert result.spearman.shape == (4, 3)
    assert np.all(np.isfinite(result.ssim)) and np.all(np.abs(result.spearman) <= 1 + 1e-6)
    assert result.method == "saliency"
    assert_model_unchanged(tiny_cnn, before)


def test_layers_as_a_count_or_names_always_run_top_down(tiny_cnn, rng):
    images = rng.uniform(size=(2, 16, 16, 3)).astype("float32")
    assert randomization_check(tiny_cnn, "saliency", images, layers=1).layers == ("predictions",)
    chosen = randomization_check(tiny_cnn, "gradcam", images, layers=["conv1", "predictions"],
                                 layer="conv2")
    assert chosen.layers == ("predictions", "conv1")
    assert randomization_check(tiny_cnn, "saliency", images, layers=0).maps.shape[0] == 1


@pytest.mark.parametrize(
    "layers, error, words",
    [
        (["gap"], ValueError, "have weights"),
        (["conv_2"], ValueError, "Did you mean"),
        (4, ValueError, "at most 3"),
        ("conv1", TypeError, "list of layer names"),
    ],
)
def test_bad_layers_are_refused(tiny_cnn, layers, error, words):
    with pytest.raises(error, match=words):
        randomization_check(tiny_cnn, "saliency", np.zeros((1, 16, 16, 3)), layers=layers)


def test_bad_method_and_maps_are_refused(tiny_cnn):
    images = np.zeros((1, 16, 16, 3))
    with pytest.raises(ValueError, match="Known names"):
        randomization_check(tiny_cnn, "gradcamm", images)
    with pytest.raises(TypeError, match="`method`"):
        randomization_check(tiny_cnn, 3, images)
    with pytest.raises(ValueError, match=r"shape \(1, 16, 16\)"):
        randomization_check(tiny_cnn, lambda model, x, target: np.zeros((1, 8, 8)), images)


def test_nested_base_model_is_copied_and_its_inner_layers_randomized(rng):
    base_inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(3, 3, activation="relu", name="base_conv1")(base_inputs)
    x = keras.layers.Conv2D(4, 3, activation="relu", name="base_conv2")(x)
    base = keras.Model(base_inputs, x, name="base")
    model = keras.Sequential([keras.Input((8, 8, 3)), base, keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(2, activation="softmax", name="head")])
    images = rng.uniform(size=(2, 8, 8, 3)).astype("float32")
    before = model_state(model)
    result = randomization_check(model, "guided", images)
    assert result.layers == ("head", "base_conv2", "base_conv1")
    np.testing.assert_allclose(result.spearman[0], 1.0, atol=1e-6)
    assert_model_unchanged(model, before)


def test_subclassed_models_are_refused_before_anything_is_randomized():
    class Tiny(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2)

        def call(self, x):
            return self.dense(keras.ops.mean(x, axis=(1, 2)))

    model = Tiny()
    model(np.zeros((1, 4, 4, 3), "float32"))
    before = model_state(model)
    with pytest.raises(ValueError, match="clone_model"):
        randomization_check(model, "saliency", np.ones((1, 4, 4, 3)))
    assert_model_unchanged(model, before)


def test_reinitialize_uses_each_layer_s_own_initializers():
    norm = keras.layers.BatchNormalization()
    norm.build((None, 4, 4, 3))
    norm.set_weights([np.full(3, 7.0, "float32")] * 4)
    reinitialize(norm, seed=0)
    gamma, beta, mean, variance = norm.get_weights()
    np.testing.assert_array_equal(gamma, 1.0)
    np.testing.assert_array_equal(beta, 0.0)
    np.testing.assert_array_equal(mean, 0.0)
    np.testing.assert_array_equal(variance, 1.0)
    separable = keras.layers.SeparableConv2D(2, 3, depthwise_initializer="ones",
                                             pointwise_initializer=keras.initializers.Constant(2.0))
    separable.build((None, 5, 5, 3))
    separable.set_weights([np.zeros_like(w) for w in separable.get_weights()])
    reinitialize(separable, seed=0)
    depthwise, pointwise, _ = separable.get_weights()
    np.testing.assert_array_equal(depthwise, 1.0)
    np.testing.assert_array_equal(pointwise, 2.0)


def test_a_weight_without_initializer_is_reported():
    class Scale(keras.layers.Layer):
        def build(self, shape):
            self.factor = self.add_weight(shape=(), initializer="ones", name="factor")

        def call(self, x):
            return x * self.factor

    layer = Scale()
    layer.build((None, 2))
    with pytest.raises(ValueError, match="factor_initializer"):
        reinitialize(layer, seed=0)


def test_smoothgrad_maps_are_reproducible_with_a_seed(tiny_cnn, rng):
    images = rng.uniform(size=(2, 16, 16, 3)).astype("float32")
    first, second, other = (saliency(tiny_cnn, images, smooth_samples=4, seed=seed)
                            for seed in (7, 7, 8))
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)


def test_every_registry_name_and_alias_resolves_to_its_function_and_defaults():
    from keras_vis import registry
    from keras_vis.metrics._methods import resolve_method

    for name in registry.known_names():
        spec = registry.find(name)
        explain = resolve_method(name, {"seed": 3}, 8)
        assert explain.func is spec.load(), name
        assert explain.keywords == {**spec.defaults, "seed": 3, "batch_size": 8}, name


def test_occlusion_is_read_as_importance_high_where_hiding_costs_the_most(rng):
    from keras_vis.attribution import occlusion
    from keras_vis.metrics._methods import resolve_method

    # The class-0 logit is the sum of the top-left 4×4 block: hiding it costs the most.
    inputs = keras.Input((8, 8, 1))
    outputs = keras.layers.Dense(2, activation="softmax", name="dense")(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, outputs)
    region = np.zeros((8, 8), "float32")
    region[:4, :4] = 1.0
    column = region.reshape(-1, 1)
    model.get_layer("dense").set_weights([np.hstack([column, -column]), np.zeros(2, "float32")])
    images = rng.uniform(0.5, 1.0, (2, 8, 8, 1)).astype("float32")
    options = {"patch": 2, "stride": 2, "fill": 0.0, "logits": True}
    importance = resolve_method("occlusion", options, 8)(model, images, 0)
    scores = occlusion(model, images, 0, normalize=False, **options)
    drop = scores.max(axis=(1, 2), keepdims=True) - scores
    np.testing.assert_allclose(importance, drop / drop.max(axis=(1, 2), keepdims=True), atol=1e-6)
    np.testing.assert_allclose(importance[:, 4:, :], 0.0, atol=1e-6)  # hiding there costs nothing
    assert np.all(importance[:, :4, :4] > 0) and importance.max() == pytest.approx(1.0)
