"""Feature inversion: a linear layer's inversion is the original up to the layer's null space, a
trained network's inversion keeps what the network decides on, new targets reuse the compiled
step, and malformed options are refused."""

import keras
import numpy as np
import pytest
from helpers.maximize_models import linear_probe, stripes, trained_stripes_cnn

import keras_vis
from keras_vis.maximization import callbacks, invert, objectives, render
from keras_vis.inspect import feature_maps

EXACT = dict(param="pixel", decorrelate=False, transforms=(), regularizers=None, progress=False)


def colour_projection(model):
    """The projection of RGB colours onto the span of the 1×1 linear layer's two kernels: the
    part of an image the layer sees; the rest (one colour direction) is its null space."""
    kernel = model.get_layer("linear").get_weights()[0][0, 0]  # (3, 2)
    basis, _ = np.linalg.qr(kernel)
    return basis @ basis.T


@pytest.fixture
def linear_layer_and_images(rng):
    keras.backend.clear_session()
    model = linear_probe(in_channels=3, size=12, seed=4)
    originals = rng.uniform(0.3, 0.7, (2, 12, 12, 3)).astype(np.float32) * 255
    return model, originals


def test_inverting_a_linear_layer_recovers_the_image_up_to_its_null_space(
        linear_layer_and_images):
    model, originals = linear_layer_and_images
    seen = colour_projection(model)
    history = callbacks.History()
    recovered = invert(model, originals, "linear", loss="l2", steps=300, seed=0,
                       callbacks=[history], **EXACT)
    assert recovered.shape == originals.shape and recovered.dtype == np.uint8
    error = (recovered.astype(np.float32) - originals) / 255
    np.testing.assert_allclose(error @ seen, 0.0, atol=0.02)  # what the layer sees: recovered
    assert np.abs(error).max() > 0.05  # the null space: not (the start was noise around grey)
    assert history.values[-1].min() > -1e-3 and history.values[0].max() < -0.01


def test_cosine_inversion_of_a_linear_layer_recovers_the_image_up_to_scale(
        linear_layer_and_images):
    model, originals = linear_layer_and_images
    seen = colour_projection(model)
    recovered = invert(model, originals, "linear", loss="cosine", steps=300, seed=0, **EXACT)
    for got, want in zip(recovered.astype(np.float32) @ seen, originals @ seen):
        cosine = np.sum(got * want) / (np.linalg.norm(got) * np.linalg.norm(want))
        assert cosine > 0.999


def test_inversion_of_a_trained_network_keeps_its_decision():
    keras.backend.clear_session()
    model = trained_stripes_cnn()
    originals, labels = stripes(4, seed=7)
    recovered = invert(model, originals, "conv2", steps=96, seed=0, progress=False)
    assert np.all(model.predict(recovered.astype(np.float32), verbose=0).argmax(1) == labels)
    target = feature_maps(model, originals, "conv2")["conv2"].reshape(4, -1)
    got = feature_maps(model, recovered, "conv2")["conv2"].reshape(4, -1)
    cosine = np.sum(target * got, 1) / np.linalg.norm(target, axis=1) / np.linalg.norm(got, axis=1)
    assert cosine.min() > 0.8
    # The regularized default is smoother than the original noisy stripes, not noise itself.
    assert np.all(np.isfinite(recovered)) and recovered.std() > 10
    np.testing.assert_array_equal(
        recovered, invert(model, originals, "conv2", steps=96, seed=0, progress=False))


def test_new_targets_and_sizes_reuse_the_compiled_step(rng):
    keras.backend.clear_session()
    model = linear_probe(in_channels=3, seed=1)  # any input size
    invert(model, rng.uniform(0, 255, (2, 8, 8, 3)), "linear", steps=2, **EXACT)
    traces = render.trace_count(model)
    invert(model, rng.uniform(0, 255, (3, 10, 12, 3)), "linear", steps=2, **EXACT)
    assert render.trace_count(model) == traces


def test_regularizers_are_added_to_the_match(rng):
    keras.backend.clear_session()
    model = linear_probe(in_channels=3, size=12, seed=4)
    originals = rng.uniform(0, 255, (1, 12, 12, 3)).astype(np.float32)
    rough = invert(model, originals, "linear", steps=60, seed=0, **EXACT)
    options = {**EXACT, "regularizers": -1.0 * objectives.total_variation()}
    smooth = invert(model, originals, "linear", steps=60, seed=0, **options)

    def variation(image):
        return np.abs(np.diff(image.astype(np.float32), axis=1)).mean()

    assert variation(smooth) < 0.5 * variation(rough)


def test_invert_is_public():
    assert keras_vis.invert is invert


@pytest.mark.parametrize("options, error, match", [
    (dict(loss="kl"), ValueError, "loss"),
    (dict(regularizers="smooth"), TypeError, "regularizers"),
    (dict(regularizers=0.1), TypeError, "regularizers"),
    (dict(layer="nowhere"), ValueError, "nowhere"),
    (dict(images=np.zeros((8, 8, 3))), ValueError, r"images\[None\]"),
    (dict(images=np.full((1, 8, 8, 3), np.nan)), ValueError, "finite"),
    (dict(steps=0), ValueError, "steps"),
])
def test_bad_input_is_refused_clearly(rng, options, error, match):
    keras.backend.clear_session()
    model = linear_probe(in_channels=3, seed=1)
    arguments = dict(images=rng.uniform(0, 255, (1, 8, 8, 3)), layer="linear")
    arguments.update(options)
    images, layer = arguments.pop("images"), arguments.pop("layer")
    with pytest.raises(error, match=match):
        invert(model, images, layer, progress=False, **arguments)
