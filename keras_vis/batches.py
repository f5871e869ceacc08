"""Batches that fit a model: images made a float32 `(N, H, W, C)` batch its first input takes, at a
spatial size its layers can run on, for a channels-last model (`to_float_batch`)."""

import threading
import weakref

import keras
import numpy as np

from keras_vis._checks import check_real, error_gist, expected
from keras_vis.layers import iter_layers


def to_float_batch(images, model, name="images"):
    """Converts `images` to a float32 numpy batch that fits `model`'s first input.

    Accepts numpy arrays, tensors or nested lists of shape `(N, H, W, C)`; a single image of shape
    `(H, W, C)` is not accepted silently, since it is ambiguous with a batch of grey images.

    Raises:
        TypeError: if `images` is not array-like, or complex.
        ValueError: on a wrong rank, an empty batch, a size or channel count the model cannot take, or
            non-finite values.
    """
    if images is None or isinstance(images, (str, bytes, dict)):
        raise TypeError(expected(name, "an array or tensor of shape (N, H, W, C)", images))
    try:
        array = np.asarray(keras.ops.convert_to_numpy(images) if keras.ops.is_tensor(images) else images)
    except Exception as error:
        raise TypeError(expected(name, "an array or tensor of shape (N, H, W, C)", images)) from error
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.bool_)
    ):
        raise TypeError(expected(name, "a numeric array of shape (N, H, W, C)", array))
    check_real(array, name)
    model_inputs = getattr(model, "inputs", None)
    # A subclassed model has no symbolic input: only the batch structure can be checked.
    expected_shape = tuple(model_inputs[0].shape) if model_inputs else (None,) * max(array.ndim, 2)
    if array.ndim != len(expected_shape):
        hint = None
        if array.ndim == len(expected_shape) - 1:
            hint = "To pass a single image, add a batch axis: `images[None]`."
        raise ValueError(
            expected(name, f"a batch of rank {len(expected_shape)}, shape {_shape_text(expected_shape)}",
                     array, hint)
        )
    if array.shape[0] == 0:
        raise ValueError(expected(name, "a non-empty batch", array))
    for axis, (want, got) in enumerate(zip(expected_shape[1:], array.shape[1:]), start=1):
        if want is not None and want != got:
            what = "channels" if axis == len(expected_shape) - 1 else f"size {want} on axis {axis}"
            raise ValueError(
                expected(
                    name,
                    f"of shape {_shape_text(expected_shape)} to match the model input",
                    array,
                    f"Axis {axis} has {got}, the model needs {want} {what if what == 'channels' else ''}".rstrip()
                    + ". Resize the images (e.g. `keras_vis.io.load_image(path, target_size=...)`).",
                )
            )
    check_input_size(model, array, name)
    array = array.astype(np.float32, copy=False)
    if not np.all(np.isfinite(array)):
        raise ValueError(expected(name, "finite values (no NaN or inf)", array))
    return array


def _shape_text(shape):
    return "(" + ", ".join("N" if i == 0 else ("?" if d is None else str(d)) for i, d in enumerate(shape)) + ")"


def check_channels_last(model, name="model"):
    """Raises `ValueError` if a layer of `model` (nested models included) is channels-first.

    Maps, feature-map channels and images are all read as `(N, H, W, C)`.
    """
    for layer in iter_layers(model):
        if getattr(layer, "data_format", None) == "channels_first":
            raise ValueError(
                expected(
                    name,
                    "a channels-last model (N, H, W, C)",
                    model,
                    f"Layer '{layer.name}' uses data_format='channels_first'. Rebuild the model "
                    "with `keras.config.set_image_data_format('channels_last')`.",
                )
            )
    return model


_LARGEST_SQUARE = 4096
# {model: {(height, width, layers): None or (smallest size, the error at this size)}}, weak by
# model.
_SIZE_CHECKS = weakref.WeakKeyDictionary()
_SIZE_LOCK = threading.Lock()


def smallest_square(fits, failing, largest=_LARGEST_SQUARE):
    """The smallest side `n > failing` with `fits(n)`, or `None` if none up to `largest`.

    Doubles from `failing`, then bisects; it takes a size that fits to keep fitting when grown,
    as convolutions and pooling do.
    """
    failing = max(int(failing), 0)
    working = max(2 * failing, 1)
    while not fits(working):
        failing, working = working, working * 2
        if working > largest:
            return None
    while working - failing > 1:
        middle = (failing + working) // 2
        if fits(middle):
            working = middle
        else:
            failing = middle
    return working


def input_size_error(model, height, width):
    """Why the layers of `model` cannot run on a `(height, width)` input, or `None` if they can.

    Computed from the layers' output shapes (nothing runs), for a model whose first input has an
    open spatial size; a fixed size is checked against the input shape instead, and a subclassed
    model cannot be read.

    Returns:
        `None`, or `(smallest, error)`: the smallest square side the model takes and the error its
        layers raise at this size. A model that no square size up to 4096 fits (a layer that
        cannot be traced symbolically, say) is left to report its own error.
    """
    inputs = getattr(model, "inputs", None)
    if not inputs or len(inputs[0].shape) != 4 or None not in inputs[0].shape[1:3]:
        return None
    size = (int(height), int(width))
    # A model edited in place (a `Sequential` popped or grown) is a new question.
    key = size + (tuple(id(layer) for layer in model.layers),)
    with _SIZE_LOCK:
        checks = _SIZE_CHECKS.setdefault(model, {})
        if key in checks:
            return checks[key]
    found = _size_error(model, inputs[0], *size)
    with _SIZE_LOCK:
        checks[key] = found
    return found


def _size_error(model, spec, height, width):
    error = _shape_error(model, spec, height, width)
    if error is None:
        return None
    smallest = smallest_square(lambda n: _shape_error(model, spec, n, n) is None,
                               min(height, width))
    return None if smallest is None else (smallest, error)


def _shape_error(model, spec, height, width):
    fixed = tuple(spec.shape)
    probe = keras.KerasTensor((1, fixed[1] or height, fixed[2] or width, fixed[3]), spec.dtype)
    try:
        outputs = model.compute_output_spec(probe)
    except Exception as error:  # any layer refusing the size
        return error
    for output in keras.tree.flatten(outputs):
        if 0 in tuple(output.shape)[1:]:
            return ValueError(f"The model's output would have shape {tuple(output.shape)}.")
    return None


def check_input_size(model, images, name="images"):
    """Raises `ValueError`, naming the smallest size that works, if the layers of `model` cannot
    run on images of the size of `images` (a batch `(N, H, W, C)`)."""
    problem = input_size_error(model, *images.shape[1:3]) if images.ndim == 4 else None
    if problem is None:
        return
    height, width = images.shape[1:3]
    smallest, error = problem
    gist = error_gist(error).rstrip(".")
    raise ValueError(
        expected(name, f"at least {smallest}×{smallest} pixels, the smallest input model "
                 f"'{model.name}' takes", images,
                 f"At {height}×{width} a layer fails: {gist}. Resize the images (e.g. "
                 f"`keras_vis.io.load_image(path, target_size=({smallest}, {smallest}))`).")
    )
