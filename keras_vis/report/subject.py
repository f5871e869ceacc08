"""What a report explains: a model, the images shown to it, and how they become model inputs."""

import dataclasses
import functools
import re
import typing

import keras
import numpy as np

from keras_vis import engine
from keras_vis._checks import check_model, expected
from keras_vis.io import no_preprocessing
from keras_vis.pixels import to_uint8
from keras_vis.targets import binary_output


@dataclasses.dataclass(eq=False)
class Subject:
    """A model, the images to explain and everything needed to show them.

    Build one with `make_subject`, which checks the arguments.

    Attributes:
        model: a built single-input image `keras.Model`.
        images: uint8 `(N, H, W, C)` pictures at the model's input size, values 0–255, as a person
            sees them.
        names: one short file-name-safe name per image.
        preprocess: maps float32 pictures with values 0–255 to the model's input units.
        class_names: the model's class names in output order, or `None`.
        model_name: the name shown in titles.
    """

    model: keras.Model
    images: np.ndarray
    names: typing.Tuple[str, ...]
    preprocess: typing.Callable = no_preprocessing
    class_names: typing.Optional[typing.Tuple[str, ...]] = None
    model_name: str = ""

    @functools.cached_property
    def inputs(self):
        """float32 `(N, H, W, C)`: the images in the model's input units."""
        return self.to_inputs(self.images)

    def to_inputs(self, pictures):
        """Maps pictures with values 0–255 (float or uint8 `(..., C)`) to model input units."""
        return np.asarray(self.preprocess(np.array(pictures, np.float32)), np.float32)

    @functools.cached_property
    def outputs(self):
        """float32 `(N, classes)`: the model's own outputs (softmax included) for the images."""
        result = engine.run(self.model, self.inputs, None, head="model", input_grads=False)
        return result.outputs[0].reshape(len(self.images), -1)

    @property
    def predicted(self):
        """int `(N,)`: the predicted class of each image."""
        return self.outputs.argmax(axis=-1)

    @property
    def class_count(self):
        """The number of classes the output scores (one for a binary classifier's unit)."""
        return self.outputs.shape[-1]

    @functools.cached_property
    def binary(self):
        """Whether the model is a binary classifier: one sigmoid unit, whose output is the
        probability of the positive label (class 0), `1 - p` that of the negative one."""
        return binary_output(self.model)

    @property
    def class_description(self):
        """What the output scores, in words: `"5 classes"`, `"1 class"`, or a binary label."""
        if self.binary:
            return f"binary: “{self.class_name(0)}” or not"
        count = self.class_count
        return f"{count} class{'es' if count != 1 else ''}"

    @property
    def outputs_are_probabilities(self):
        """Whether the outputs are probabilities (in [0, 1], summing to 1), not raw scores."""
        if self.binary:  # a sigmoid unit's output is the positive label's probability
            return True
        values = self.outputs
        return bool(values.min() >= 0 and np.allclose(values.sum(axis=-1), 1.0, atol=1e-3))

    def class_name(self, index):
        """The name of class `index`, or `"class <index>"` when the model has no names."""
        index = int(index)
        if self.class_names is not None and 0 <= index < len(self.class_names):
            return self.class_names[index]
        return f"class {index}"

    def top_classes(self, image_index, k=3):
        """`[(class name, output), ...]` of the `k` highest-scoring classes of one image; for a
        binary classifier, its two labels, the predicted one first."""
        row = self.outputs[image_index]
        if self.binary:
            positive = float(row[0])
            labels = [(self.class_name(0), positive), (f"not {self.class_name(0)}", 1 - positive)]
            return sorted(labels, key=lambda label: -label[1])
        order = np.argsort(-row, kind="stable")[:k]
        return [(self.class_name(c), float(row[c])) for c in order]

    @functools.cached_property
    def grey_input(self):
        """float32 `(C,)`: mid-grey (127.5) in model input units, the occlusion patch colour."""
        return self._constant_input(127.5)

    @functools.cached_property
    def black_input(self):
        """float32 `(C,)`: black (0) in model input units, the integrated-gradients baseline."""
        return self._constant_input(0.0)

    def _constant_input(self, value):
        pixel = np.full((1, 1, 1, self.images.shape[-1]), value, np.float32)
        return self.to_inputs(pixel).reshape(-1)


def _axis(size):
    return "?" if size is None else str(size)


def file_name(text):
    """A short name that is safe in a file name: letters, digits, `-` and `_` only
    (`"gradcam++"` becomes `"gradcampp"`)."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "_", str(text).replace("+", "p")).strip("_")
    return cleaned[:48] or "image"


def unique_names(names):
    """Makes `names` file-name safe and distinct, numbering repeats (`cat`, `cat_2`, ...)."""
    seen = {}
    result = []
    for name in names:
        base = file_name(name)
        count = seen.get(base, 0) + 1
        seen[base] = count
        result.append(base if count == 1 else f"{base}_{count}")
    return tuple(result)


def make_subject(model, images, *, names=None, preprocess=None, class_names=None, model_name=None):
    """Checks and bundles what a report explains.

    Args:
        model: a built `keras.Model` with one image input `(N, H, W, C)`.
        images: pictures `(N, H, W, C)` at the model's input size: uint8 with values 0–255, or
            floats in [0, 1] (see `keras_vis.pixels.to_uint8`).
        names: one name per image (made file-name safe); default `image_0`, `image_1`, ...
        preprocess: maps float32 pictures with values 0–255 to the model's input; default the
            identity (a model that takes 0–255 pixels).
        class_names: class names in the model's output order, or `None`.
        model_name: the name shown in titles; default `model.name`.

    Returns:
        A `Subject`.

    Raises:
        TypeError, ValueError: for a model without one image input, pictures it cannot take, a
            wrong number of names or a non-callable `preprocess`.
    """
    check_model(model)
    inputs = getattr(model, "inputs", None) or []
    if len(inputs) != 1 or len(inputs[0].shape) != 4:
        raise ValueError(expected("model", "a model with one image input (N, H, W, C)", model))
    pictures = to_uint8(images, "images")
    if pictures.ndim != 4 or len(pictures) == 0:
        raise ValueError(expected("images", "a non-empty batch of pictures (N, H, W, C)", pictures))
    want = tuple(inputs[0].shape[1:])
    got = pictures.shape[1:]
    if any(w is not None and w != g for w, g in zip(want, got)):
        raise ValueError(
            expected("images", f"pictures of shape (N, {', '.join(map(_axis, want))})",
                     pictures, "Resize them to the model's input size first, e.g. with "
                     "`keras_vis.io.load_images(paths, target_size=...)`.")
        )
    if names is None:
        names = [f"image_{i}" for i in range(len(pictures))]
    names = list(names)
    if len(names) != len(pictures):
        raise ValueError(expected("names", f"{len(pictures)} names, one per image", names))
    if preprocess is not None and not callable(preprocess):
        raise TypeError(expected("preprocess", "None or a function", preprocess))
    if class_names is not None:
        class_names = tuple(str(c) for c in class_names)
    return Subject(
        model=model,
        images=pictures,
        names=unique_names(names),
        preprocess=preprocess or no_preprocessing,
        class_names=class_names,
        model_name=model_name or model.name,
    )
