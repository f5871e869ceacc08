"""Shared fixtures: quiet TensorFlow, a fresh Keras session per test, tiny models with known answers."""

import logging
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from helpers.models import gap_cnn  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_session():
    # Without the full garbage collection that clear_session runs by default (about a second per
    # call once TensorFlow's graphs fill the heap); Python still collects on its own schedule.
    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(0)
    yield


@pytest.fixture
def tiny_cnn():
    return gap_cnn()


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
