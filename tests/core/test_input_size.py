"""Images smaller than a fully convolutional model can take are refused with the smallest size."""

import keras
import numpy as np
import pytest

import keras_vis
from keras_vis.batches import check_input_size


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


def test_the_size_probe_writes_nothing_to_the_model(rng, monkeypatch):
    model = fully_convolutional()
    model(np.zeros((1, 16, 16, 3), np.float32))  # built and called, as a user's model is
    writes = []
    original = keras.layers.Layer.__setattr__

    def recording(layer, name, value):
        writes.append((layer.name, name))
        original(layer, name, value)

    monkeypatch.setattr(keras.layers.Layer, "__setattr__", recording)
    for side in (2, 7, 40):  # each a new size: the probe runs, and refuses the first two
        try:
            check_input_size(model, np.zeros((1, side, side, 3), np.float32))
        except ValueError:
            assert side < 8
    assert writes == []


def test_the_size_probe_answers_anew_for_a_model_edited_in_place():
    model = keras.Sequential([keras.Input((None, None, 3)),
                              keras.layers.Conv2D(2, 3, name="first"),
                              keras.layers.Conv2D(2, 3, name="second")])
    small = np.zeros((1, 4, 4, 3), np.float32)
    with pytest.raises(ValueError, match="at least 5×5"):
        check_input_size(model, small)
    model.pop()  # one 3×3 convolution left: 4×4 images fit now
    check_input_size(model, small)

