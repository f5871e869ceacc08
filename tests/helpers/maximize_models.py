"""Tiny models for the activation-maximization tests, with weights chosen or trained in seconds."""

import functools

import keras
import numpy as np


def stripes(count, seed, size=16):
    """Horizontal (class 0) and vertical (class 1) sine stripes, random period and phase, 0–255."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, count)
    period = rng.uniform(3, 6, (count, 1, 1))
    phase = rng.uniform(0, 2 * np.pi, (count, 1, 1))
    grid = np.arange(size, dtype=np.float32)
    along = np.where(labels[:, None, None] == 0, grid[None, :, None], grid[None, None, :])
    waves = 0.5 + 0.4 * np.sin(2 * np.pi * along / period + phase)
    images = np.repeat(waves[..., None], 3, axis=-1) + rng.normal(0, 0.05, (count, size, size, 3))
    return (np.clip(images, 0, 1) * 255).astype(np.float32), labels


@functools.lru_cache(maxsize=1)  # trained once per test session; tests never change it
def trained_stripes_cnn():
    """A 16×16 RGB CNN trained to tell horizontal from vertical stripes (100% accuracy).

    It takes 0–255 images and rescales them to [-1, 1] itself, so mid-grey is 0 inside.
    """
    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0)(inputs)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(x)
    x = keras.layers.MaxPooling2D(name="pool1")(x)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(2, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs, outputs, name="stripes_cnn")
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    images, labels = stripes(256, seed=1)
    model.fit(images, labels, epochs=4, batch_size=32, verbose=0)
    return model


def linear_probe(in_channels=3, size=None, bias=0.0, seed=0):
    """Input → 1×1 linear convolution with 2 channels → Flatten → Dense(2, softmax).

    The channel objective is then linear in the image, so its gradient is known in closed form:
    d mean(conv[..., k]) / d image = kernel[0, 0, :, k] / (H * W) at every pixel.
    """
    rng = np.random.default_rng(seed)
    inputs = keras.Input((size, size, in_channels))
    conv = keras.layers.Conv2D(2, 1, name="linear")(inputs)
    if size is None:
        head = keras.layers.GlobalAveragePooling2D()(conv)
    else:
        head = keras.layers.Flatten()(conv)
    outputs = keras.layers.Dense(2, activation="softmax", name="predictions")(head)
    model = keras.Model(inputs, outputs)
    kernel = rng.normal(size=(1, 1, in_channels, 2)).astype(np.float32)
    model.get_layer("linear").set_weights([kernel, np.full((2,), bias, np.float32)])
    return model


def pooled_cnn(size=16, pools=3):
    """`pools` blocks of conv(3×3, same) + 2×2 max-pool, then a dense head: a 16×16 input with
    3 pools is 2×2 at `pool3`, and an input below 2**pools px leaves an empty map."""
    inputs = keras.Input((size, size, 3))
    x = inputs
    for i in range(pools):
        x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name=f"conv{i + 1}")(x)
        x = keras.layers.MaxPooling2D(name=f"pool{i + 1}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="pooled_cnn")


def dead_cnn():
    """A CNN whose `dead` channel 0 is ReLU(-1) everywhere: zero gradient from any start."""
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(2, 3, padding="same", activation="relu", name="dead")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(2, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs, outputs)
    kernel = np.zeros((3, 3, 3, 2), np.float32)
    model.get_layer("dead").set_weights([kernel, np.array([-1.0, -1.0], np.float32)])
    return model
