"""The bundled demo model, a small CNN trained on generated shapes, and sample images for it.

The model (`load_model`) classifies 64×64 RGB images into `CLASS_NAMES`. It takes pixel values in
[0, 255] (uint8-range floats) and rescales them itself. Its architecture is VGG-like: convolution
blocks with max-pooling, a last convolution named `LAST_CONV_LAYER`, then global average pooling
and a softmax dense layer, so every class activation map method applies. It was trained by
`python -m keras_vis.demo.train` on generated images and needs no download.

The generator of those images, `shapes` (module `keras_vis.demo.shapes`: one filled shape on a
cluttered background per image, with the object's mask), is exported here with `SHAPE_CLASSES`
and `MIN_SIZE`.
"""

import os

import cv2
import keras
import numpy as np
import skimage.data

from keras_vis.demo.shapes import MIN_SIZE, SHAPE_CLASSES, shapes

INPUT_SIZE = 64
"""Side of the model's square RGB input."""
CLASS_NAMES = SHAPE_CLASSES
"""Class names in the order of the model's outputs."""
LAST_CONV_LAYER = "last_conv"
"""Name of the model's last convolution, the layer class activation maps use."""
MODEL_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "shapes_cnn.keras")
"""Path of the bundled model file."""
SAMPLE_SEED = 2024
"""Seed of the generated images `sample_shapes` picks from."""
PHOTOS = ("astronaut", "chelsea", "coffee")
"""The scikit-image sample photographs included in `sample_images`."""


def load_model(path=MODEL_PATH):
    """Loads the demo model (uncompiled, in safe mode).

    Args:
        path: `.keras` file to load; the bundled model by default.

    Returns:
        A functional `keras.Model` mapping `(N, 64, 64, 3)` float images with values in
        [0, 255] to `(N, len(CLASS_NAMES))` class probabilities.

    Raises:
        FileNotFoundError: If the file does not exist.
    """
    require_file(path, "the demo model", "keras_vis.demo.train")
    return keras.saving.load_model(path, compile=False, safe_mode=True)


def require_file(path, what, maker):
    """Raises a `FileNotFoundError` naming the module that makes `path` unless it is a file."""
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"Expected {what} at '{path}', but there is no such file. Create it with "
            f"`python -m {maker}`."
        )


def sample_shapes():
    """One generated image of each class, in class order, with its label and object mask.

    The images come from `shapes(..., size=INPUT_SIZE, seed=SAMPLE_SEED)` (the first image of
    each class), a seed the model was neither trained nor tested on.

    Returns:
        A tuple `(images, labels, masks)`: `(5, 64, 64, 3)` uint8 RGB images, `(5,)` int64
        labels (`0, 1, ..., 4`) and `(5, 64, 64)` boolean object masks.
    """
    images, labels, masks = shapes(8 * len(CLASS_NAMES), size=INPUT_SIZE, seed=SAMPLE_SEED)
    first = [int(np.flatnonzero(labels == label)[0]) for label in range(len(CLASS_NAMES))]
    return images[first], labels[first], masks[first]


def _photo(name, size):
    """A scikit-image sample photo, centre-cropped to a square and resized to `size`."""
    image = getattr(skimage.data, name)()
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = np.ascontiguousarray(image[top:top + side, left:left + side, :3])
    return cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA)


def sample_images(photos=True):
    """Sample pictures at the model's input size: one generated shape per class, then photos.

    Args:
        photos: Whether to append the scikit-image photographs named in `PHOTOS` (astronaut,
            chelsea the cat, coffee), centre-cropped and resized; they are outside the model's
            classes and show how explanations behave off its training distribution.

    Returns:
        A tuple `(images, names)`: a `(n, 64, 64, 3)` uint8 RGB array and a list of `n` names,
        the class names for the shapes (see `sample_shapes` for their labels and masks) then
        the photo names.
    """
    images = list(sample_shapes()[0])
    names = list(CLASS_NAMES)
    if photos:
        images += [_photo(name, INPUT_SIZE) for name in PHOTOS]
        names += list(PHOTOS)
    return np.stack(images), names


def sample_batch(photos=False):
    """Sample images as one float32 batch ready for the model (values in [0, 255]).

    Args:
        photos: Whether to include the photographs after the shapes, as in `sample_images`.

    Returns:
        A `(n, 64, 64, 3)` float32 array: one generated shape per class, in class order, by
        default.
    """
    return sample_images(photos=photos)[0].astype(np.float32)


__all__ = [
    "CLASS_NAMES",
    "INPUT_SIZE",
    "LAST_CONV_LAYER",
    "MIN_SIZE",
    "MODEL_PATH",
    "PHOTOS",
    "SAMPLE_SEED",
    "SHAPE_CLASSES",
    "load_model",
    "sample_batch",
    "sample_images",
    "sample_shapes",
    "shapes",
]
