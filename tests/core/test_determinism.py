"""The same seed gives the same pictures: activation maximization and SmoothGrad, across calls, a
fresh Keras session and the batch size; another seed gives other pictures."""

import keras
import numpy as np
import pytest

from keras_vis.attribution import saliency
from keras_vis.maximization import class_visualization, filter_visualization, maximize, objectives
from helpers.models import cnn, images

RENDERS = {
    # random start and the standard random jitter, scale and rotation at every step
    "maximize": (lambda model, seed: maximize(
        model, objectives.channel("conv2", [0, 3]), size=16, steps=3, seed=seed, progress=False),
        (2, 16, 16, 3)),
    # two 12-pixel tiles side by side, 5 pixels apart
    "filter_visualization": (lambda model, seed: filter_visualization(
        model, "conv1", [0, 2], size=16, crop=2, steps=3, seed=seed, progress=False),
        (12, 29, 3)),
    # decorrelated Fourier parameterisation, standard transforms
    "class_visualization": (lambda model, seed: class_visualization(
        model, [1, 2], steps=3, seed=seed, progress=False), (2, 16, 16, 3)),
}


def rebuilt(model):
    """A new model with `model`'s weights, in a fresh Keras session."""
    weights = model.get_weights()
    keras.backend.clear_session()
    twin = cnn("rebuilt")
    twin.set_weights(weights)
    return twin


@pytest.mark.parametrize("render", list(RENDERS))
def test_activation_maximization_is_a_function_of_its_seed(render):
    draw, shape = RENDERS[render]
    model = cnn()
    first = draw(model, 11)
    assert first.dtype == np.uint8 and first.shape == shape
    np.testing.assert_array_equal(draw(model, 11), first)
    assert not np.array_equal(draw(model, 12), first)
    if render == "maximize":  # nothing kept from one session to the next
        np.testing.assert_array_equal(draw(rebuilt(model), 11), first)


def test_smoothgrad_is_a_function_of_its_seed():
    model = cnn()
    x = images(3)

    def smoothgrad(network, seed, batch_size=32):
        return saliency(network, x, smooth_samples=6, seed=seed, batch_size=batch_size,
                        normalize=False)

    first = smoothgrad(model, 0)
    assert first.shape == (3, 16, 16) and np.all(np.isfinite(first))
    np.testing.assert_array_equal(smoothgrad(model, 0), first)
    assert not np.allclose(smoothgrad(model, 1), first)
    # The noise is drawn image by image in the same order whatever the chunking; only the order
    # of the float sums changes.
    np.testing.assert_allclose(smoothgrad(model, 0, batch_size=4), first, rtol=1e-5, atol=1e-9)
    np.testing.assert_array_equal(smoothgrad(rebuilt(model), 0), first)
    # and the noise matters: it is not the plain gradient
    assert not np.allclose(saliency(model, x, normalize=False), first)
