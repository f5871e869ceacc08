"""Known answers for the gradient saliency family: vanilla, guided, deconvnet, SmoothGrad,
gradient × input and integrated gradients."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers.state import assert_model_unchanged, model_state

from keras_vis.attribution import gradient_input, integrated_gradients, saliency
from keras_vis.attribution._maps import normalize as normalize_maps

SHAPE = (6, 5, 3)


def linear_model(classes=4, activation="softmax"):
    inputs = keras.Input(SHAPE)
    x = keras.layers.Flatten()(inputs)
    outputs = keras.layers.Dense(classes, activation=activation, bias_initializer="random_normal",
                                 name="dense")(x)
    return keras.Model(inputs, outputs)


def weight_images(model, classes):
    """The weight column of each image's class, shaped like the images: the logit's gradient."""
    kernel = model.get_layer("dense").kernel.numpy()
    return np.stack([kernel[:, c].reshape(SHAPE) for c in classes])


def relu_cnn(bias=True, seed=0):
    """A small CNN with biases (not positively homogeneous), logits head behind a softmax."""
    keras.utils.set_random_seed(seed)
    init = "random_normal" if bias else "zeros"
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", bias_initializer=init,
                            use_bias=bias)(inputs)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(5, 3, padding="same", activation="relu", bias_initializer=init,
                            use_bias=bias)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, activation="softmax", bias_initializer=init, use_bias=bias,
                                 name="dense")(x)
    return keras.Model(inputs, outputs)


def logits_of(model, images):
    """Naive logits: the model rebuilt with a linear dense head sharing the same weights."""
    dense = model.get_layer("dense")
    features = keras.Model(model.inputs[0], dense.input)(images)
    return (features @ dense.kernel + (dense.bias if dense.use_bias else 0)).numpy()


def naive_gradients(model, images, classes):
    """Per-image input gradient of the class logit, one tape call per image (the slow reference)."""
    dense = model.get_layer("dense")
    features = keras.Model(model.inputs[0], dense.input)
    rows = []
    for image, c in zip(images, classes):
        x = tf.constant(image[None])
        with tf.GradientTape() as tape:
            tape.watch(x)
            logit = features(x) @ dense.kernel[:, c : c + 1]
        rows.append(tape.gradient(logit, x).numpy()[0])
    return np.stack(rows)


REDUCE = {
    "max_abs": lambda g: np.abs(g).max(-1),
    "abs_sum": lambda g: np.abs(g).sum(-1),
    "sum": lambda g: g.sum(-1),
    "l2": lambda g: np.sqrt((g**2).sum(-1)),
}


def test_saliency_of_linear_model_is_its_weights(rng):
    # Guided backprop and deconvnet refuse a model without rectifiers (tests/test_guided_gates.py).
    model = linear_model()
    images = rng.random((3,) + SHAPE, dtype=np.float32)
    classes = [2, 0, 3]
    for reduce, reference in REDUCE.items():
        result = saliency(model, images, classes, reduce=reduce, normalize=False)
        expected = reference(weight_images(model, classes))
        assert result.shape == (3, 6, 5) and result.dtype == np.float32
        np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-7, err_msg=reduce)
        normalized = saliency(model, images, classes, reduce=reduce)
        np.testing.assert_allclose(normalized, normalize_maps(expected), rtol=1e-5, atol=1e-6)


def test_smoothgrad_of_linear_model_is_its_weights_whatever_the_noise(rng):
    model = linear_model()
    images = rng.random((2,) + SHAPE, dtype=np.float32)
    result = saliency(model, images, 1, smooth_samples=7, smooth_noise=0.5, seed=3,
                      normalize=False, batch_size=4)
    np.testing.assert_allclose(result, np.abs(weight_images(model, [1, 1])).max(-1), rtol=1e-5)


def test_smoothgrad_averages_gradients_of_seeded_noisy_copies(rng):
    model = relu_cnn()
    images = rng.random((2, 8, 8, 3), dtype=np.float32) * 2.0
    samples, noise, seed = 5, 0.2, 11
    result = saliency(model, images, [1, 2], smooth_samples=samples, smooth_noise=noise, seed=seed,
                      reduce="sum", normalize=False, batch_size=3)
    # Copies are image-major; the noise is one standard-normal stream scaled by each image's range.
    draws = np.random.default_rng(seed).standard_normal((2 * samples, 8, 8, 3), dtype=np.float32)
    sigma = noise * (images.max(axis=(1, 2, 3)) - images.min(axis=(1, 2, 3)))
    scale = np.repeat(sigma, samples)[:, None, None, None]
    noisy = np.repeat(images, samples, axis=0) + draws * scale
    gradients = naive_gradients(model, noisy, np.repeat([1, 2], samples))
    expected = gradients.reshape(2, samples, 8, 8, 3).mean(axis=1).sum(-1)
    np.testing.assert_allclose(result, expected, rtol=1e-4, atol=1e-6)
    again = saliency(model, images, [1, 2], smooth_samples=samples, smooth_noise=noise, seed=seed,
                     reduce="sum", normalize=False, batch_size=32)
    np.testing.assert_allclose(again, result, rtol=1e-5, atol=1e-7)


def test_smoothgrad_scores_the_class_predicted_for_the_clean_image(rng):
    model = relu_cnn()
    images = rng.random((4, 8, 8, 3), dtype=np.float32)
    predicted = list(logits_of(model, images).argmax(-1))
    options = dict(smooth_samples=4, smooth_noise=1.0, seed=0, normalize=False)
    np.testing.assert_allclose(saliency(model, images, None, **options),
                               saliency(model, images, predicted, **options), rtol=1e-6)


def one_relu_model():
    """x (4×4×1) -> 1×1 conv to 2 channels (relu) -> flatten -> dense(1), set by hand."""
    inputs = keras.Input((4, 4, 1))
    conv = keras.layers.Conv2D(2, 1, activation="relu", name="conv")
    dense = keras.layers.Dense(1, name="dense")
    model = keras.Model(inputs, dense(keras.layers.Flatten()(conv(inputs))))
    conv.set_weights([np.array([1.0, -2.0], np.float32).reshape(1, 1, 1, 2),
                      np.array([0.1, 0.3], np.float32)])
    dense.set_weights([np.linspace(-1.0, 1.0, 32, dtype=np.float32)[:, None],
                       np.zeros(1, np.float32)])
    return model


def test_guided_and_deconvnet_backward_passes_match_hand_derivation(rng):
    model = one_relu_model()
    images = rng.normal(size=(2, 4, 4, 1)).astype(np.float32)
    a, b = np.array([1.0, -2.0]), np.array([0.1, 0.3])
    upstream = np.linspace(-1.0, 1.0, 32).reshape(4, 4, 2)  # d score / d relu output, per position
    active = (images * a + b) > 0  # (N, 4, 4, 2) forward ReLU gate
    expected = {
        "vanilla": (upstream * active * a).sum(-1),
        "guided": (np.maximum(upstream, 0) * active * a).sum(-1),
        "deconvnet": (np.maximum(upstream, 0) * a).sum(-1) * np.ones_like(images[..., 0]),
    }
    before = model_state(model)
    for method, want in expected.items():
        got = saliency(model, images, 0, method=method, reduce="sum", normalize=False)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=method)
    assert_model_unchanged(model, before)


def test_gradient_input_of_linear_model_is_image_times_weights(rng):
    model = linear_model()
    images = rng.normal(size=(3,) + SHAPE).astype(np.float32)
    product = images * weight_images(model, [1, 1, 1])
    np.testing.assert_allclose(gradient_input(model, images, 1, reduce="sum", normalize=False),
                               product.sum(-1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gradient_input(model, images, 1, normalize=False),
                               np.abs(product).sum(-1), rtol=1e-5, atol=1e-6)


def test_integrated_gradients_of_linear_model_is_delta_times_weights(rng):
    model = linear_model()
    images = rng.random((2,) + SHAPE, dtype=np.float32)
    baseline = rng.random(SHAPE, dtype=np.float32)
    result = integrated_gradients(model, images, [3, 1], steps=3, baseline=baseline, reduce="sum",
                                  normalize=False)
    expected = ((images - baseline) * weight_images(model, [3, 1])).sum(-1)
    np.testing.assert_allclose(result, expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("baseline", [None, 0.3, "per-image"])
def test_integrated_gradients_completeness(baseline, rng):
    model = relu_cnn()
    images = rng.random((3, 8, 8, 3), dtype=np.float32) * 2.0
    if baseline == "per-image":
        baseline = rng.random((3, 8, 8, 3), dtype=np.float32)
    start = np.broadcast_to(np.float32(0 if baseline is None else baseline), images.shape)
    classes = logits_of(model, images).argmax(-1)
    attributions = integrated_gradients(model, images, None, steps=64, baseline=baseline,
                                        reduce="sum", normalize=False, batch_size=50)
    rows = np.arange(3)
    gap = logits_of(model, images)[rows, classes] - logits_of(model, start)[rows, classes]
    totals = attributions.sum(axis=(1, 2))
    assert np.all(np.abs(gap) > 1e-3)  # a non-trivial score difference to explain
    np.testing.assert_allclose(totals, gap, rtol=0.01)


def test_integrated_gradients_of_homogeneous_relu_net_equals_gradient_times_input(rng):
    # Without biases a ReLU network is positively homogeneous: its gradient is the same at every
    # point of the path from 0, so the path average is the gradient at the image.
    model = relu_cnn(bias=False)
    images = rng.random((2, 8, 8, 3), dtype=np.float32)
    np.testing.assert_allclose(
        integrated_gradients(model, images, 2, steps=4, reduce="sum", normalize=False),
        gradient_input(model, images, 2, reduce="sum", normalize=False),
        rtol=1e-4, atol=1e-6,
    )


def test_probability_scores_with_logits_false(rng):
    model = linear_model(classes=3)
    images = rng.random((2,) + SHAPE, dtype=np.float32)
    x = tf.constant(images)
    with tf.GradientTape() as tape:
        tape.watch(x)
        probability = model(x)[:, 1]
    expected = np.abs(tape.gradient(probability, x).numpy()).max(-1)
    np.testing.assert_allclose(saliency(model, images, 1, logits=False, normalize=False), expected,
                               rtol=1e-4, atol=1e-7)


def test_tiny_gradients_still_span_the_unit_range(rng):
    model = linear_model()
    kernel, bias = model.get_layer("dense").get_weights()
    model.get_layer("dense").set_weights([kernel * 1e-30, bias])
    images = rng.random((2,) + SHAPE, dtype=np.float32)
    result = saliency(model, images, [0, 1])
    np.testing.assert_allclose(result, normalize_maps(np.abs(weight_images(model, [0, 1])).max(-1)),
                               rtol=1e-5)
    assert np.all(result.max(axis=(1, 2)) == 1.0)


def test_constant_gradient_map_normalizes_without_nan():
    model = linear_model()
    model.get_layer("dense").set_weights([np.zeros((90, 4), np.float32), np.zeros(4, np.float32)])
    result = saliency(model, np.ones((1,) + SHAPE, np.float32), 0)
    np.testing.assert_array_equal(result, np.zeros((1, 6, 5), np.float32))


BAD_ARGUMENTS = [
    (lambda m, x: saliency(m, x, method="smooth"), ValueError, "method"),
    (lambda m, x: saliency(m, x, reduce="mean"), ValueError, "reduce"),
    (lambda m, x: saliency(m, x, smooth_samples=-1), ValueError, "smooth_samples"),
    (lambda m, x: saliency(m, x, smooth_samples=2.5), TypeError, "smooth_samples"),
    (lambda m, x: saliency(m, x, smooth_noise=-0.1), ValueError, "smooth_noise"),
    (lambda m, x: saliency(m, x, normalize="yes"), TypeError, "normalize"),
    (lambda m, x: saliency(m, x, batch_size=0), ValueError, "batch_size"),
    (lambda m, x: saliency(m, x, 9), ValueError, "class indices in"),
    (lambda m, x: saliency(m, x[0]), ValueError, r"images\[None\]"),
    (lambda m, x: integrated_gradients(m, x, steps=0), ValueError, "steps"),
    (lambda m, x: integrated_gradients(m, x, baseline=np.zeros((2, 2, 3))), ValueError, "baseline"),
    (lambda m, x: integrated_gradients(m, x, baseline=np.nan), ValueError, "finite"),
    (lambda m, x: gradient_input(m, x, reduce=None), ValueError, "reduce"),
    (lambda m, x: saliency(m, x, smooth_samples=2, seed="abc"), TypeError, "seed"),
    (lambda m, x: saliency(m, np.where(x > 0.5, np.nan, x)), ValueError, "finite"),
    (lambda m, x: gradient_input(m, np.where(x > 0.5, np.inf, x)), ValueError, "finite"),
    (lambda m, x: integrated_gradients(m, np.where(x > 0.5, np.nan, x)), ValueError, "finite"),
]


def test_bad_arguments_raise_clear_errors(rng):
    model = linear_model()
    images = rng.random((2,) + SHAPE, dtype=np.float32)
    before = model_state(model)
    for call, error, match in BAD_ARGUMENTS:
        with pytest.raises(error, match=match):
            call(model, images)
    assert_model_unchanged(model, before)


def test_multi_input_model_is_refused():
    a, b = keras.Input((4, 4, 3)), keras.Input((4, 4, 3))
    x = keras.layers.Flatten()(keras.layers.Add()([a, b]))
    model = keras.Model([a, b], keras.layers.Dense(2)(x))
    with pytest.raises(ValueError, match="one image input"):
        saliency(model, np.zeros((1, 4, 4, 3), np.float32))


def test_channels_first_model_is_refused():
    inputs = keras.Input((3, 8, 8))
    x = keras.layers.Conv2D(2, 3, data_format="channels_first")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(x)))
    with pytest.raises(ValueError, match="channels-last"):
        saliency(model, np.zeros((1, 3, 8, 8), np.float32))
