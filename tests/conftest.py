"""Shared fixtures: quiet TensorFlow, a fresh Keras session per test, tiny models with known answers."""

import logging
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_session():
    # Without the full garbage collection that clear_session runs by default (about a second per
    # call once TensorFlow's graphs fill the heap); Python still collects on its own schedule.
    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(0)
    yield


def model_state(model):
    """Everything a visualization must leave untouched: weights, activations, trainable flags, layers."""
    from keras_vis.layers import iter_layers

    return {
        "weights": [w.copy() for w in model.get_weights()],
        "layers": [
            (id(layer), layer.name, layer.trainable, getattr(layer, "activation", None))
            for layer in iter_layers(model)
        ],
        "trainable": model.trainable,
    }


def assert_model_unchanged(model, before):
    after = model_state(model)
    assert after["layers"] == before["layers"]
    assert after["trainable"] == before["trainable"]
    assert len(after["weights"]) == len(before["weights"])
    for a, b in zip(after["weights"], before["weights"]):
        np.testing.assert_array_equal(a, b)


@pytest.fixture
def tiny_cnn():
    """16×16×3 → conv(relu) → conv(relu) → GAP → Dense(3, softmax): the CAM-able shape of most CNNs."""
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(name="pool1")(x)
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="tiny_cnn")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture
def tensorflow_warnings():
    """The warnings TensorFlow's logger emits during the test (its retracing warning among them)."""
    import tensorflow as tf

    handler = _Records()
    logger = tf.get_logger()
    logger.addHandler(handler)
    yield handler.messages
    logger.removeHandler(handler)


@pytest.fixture
def copy_batch_sizes(monkeypatch):
    """The size of every batch of altered copies `keras_vis.attribution._copies` sends to the
    engine during the test, in order."""
    from keras_vis.attribution import _copies

    sizes = []
    real_get_engine = _copies.get_engine

    def recording_get_engine(*args, **options):
        step = real_get_engine(*args, **options)

        def call(arrays, class_index, batch_size):
            sizes.append(len(arrays[0]))
            return step(arrays, class_index, batch_size=batch_size)

        return call

    monkeypatch.setattr(_copies, "get_engine", recording_get_engine)
    return sizes


def signed_gradient(model, images, target, **options):
    """The raw input gradient of the target summed over the colour axis: `saliency` with nothing
    taken away, to compare with a hand-derived gradient."""
    import keras_vis

    return keras_vis.saliency(model, images, target, method="vanilla", reduce="sum",
                              normalize=False, **options)
