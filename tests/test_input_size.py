"""Images smaller than a fully convolutional model can take are refused with the smallest size."""

import keras
import numpy as np
import pytest

import keras_vis


def fully_convolutional():
    """Two VALID 3×3 convolutions around a 2×2 pool: 8×8 is the smallest input giving a 1×1 map."""
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(4, 3, name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(name="pool")(x)
    x = keras.layers.Conv2D(4, 3, name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="dense")(x), name="fcn")


CALLS = {
    "saliency": lambda model, x: keras_vis.saliency(model, x, 0),
    "cam": lambda model, x: keras_vis.cam(model, x, 0),
    "occlusion": lambda model, x: keras_vis.occlusion(model, x, 0, patch=2, stride=2),
    "feature_maps": lambda model, x: keras_vis.feature_maps(model, x, "conv1"),
}


@pytest.mark.parametrize("call", sorted(CALLS))
def test_an_image_too_small_for_a_fully_convolutional_model_names_the_smallest_size(call, rng):
    model = fully_convolutional()
    smallest = r"Expected `images` to be at least 8×8 pixels, the smallest input model 'fcn' takes"
    for shape in [(1, 2, 2, 3), (1, 7, 40, 3)]:
        with pytest.raises(ValueError, match=smallest) as error:
            CALLS[call](model, rng.random(shape, dtype=np.float32))
        message = str(error.value)
        assert f"Received: images=<ndarray shape={shape}" in message
        assert "\x1b" not in message and "Exception encountered" not in message
    assert len(CALLS[call](model, rng.random((1, 8, 8, 3), dtype=np.float32))) == 1
