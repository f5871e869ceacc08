"""Argument validation shared by the public API.

Every check raises `ValueError` or `TypeError` worded the Keras way:
"Expected `name` to be <what>. Received: name=<value>", so a user sees what went wrong at the call
they made, not a stack trace from deep inside TensorFlow.
"""

import numbers
import os
import re

import keras
import numpy as np
import tensorflow as tf

from keras_vis import _keras


class NotApplicable(ValueError):
    """A technique that cannot run on this model, and the message says why and what to do: a
    layer no relevance rule covers, a head CAM needs, a model guided backprop has no rectifier
    in. The report, the command line and the explorer show it as a note and carry on."""


def describe(value, limit=80):
    """A short printable form of `value` for error messages; a path is given whole, since its end
    (the file name, the extension) is what the message is about."""
    if isinstance(value, (np.ndarray, tf.Tensor)) or keras.ops.is_tensor(value):
        return f"<{type(value).__name__} shape={tuple(value.shape)} dtype={value.dtype}>"
    if isinstance(value, os.PathLike):
        return repr(os.fspath(value))
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def expected(name, what, value, hint=None):
    """Builds the standard error message."""
    message = f"Expected `{name}` to be {what}. Received: {name}={describe(value)}"
    return message + (f". {hint}" if hint else "")


def check_model(model, name="model"):
    """Raises `TypeError` unless `model` is a built `keras.Model`."""
    if not isinstance(model, keras.Model):
        wrapped = getattr(model, "model", None)
        if isinstance(wrapped, keras.Model) and callable(getattr(model, "preprocess", None)):
            raise TypeError(expected(
                name, "a `keras.Model`", model,
                "`keras_vis.load_model` returns the model with its preprocessing: pass "
                "`loaded.model`, with images run through `loaded.preprocess` (or unpack it: "
                "`model, preprocess = keras_vis.load_model(...)`)."))
        raise TypeError(expected(name, "a `keras.Model`", model))
    if not model.built:
        raise ValueError(
            expected(
                name,
                "a built model",
                model,
                "Build it first, e.g. by calling it on a batch or giving it an `Input`.",
            )
        )
    return model


def has_layer_graph(model):
    """True for a functional or sequential model, whose layer graph can be read and re-run; False
    for a subclassed model, which can only be called as a whole."""
    return _keras.layer_graph(model) is not None


def check_layer_graph(model, name="model"):
    """Raises `ValueError` unless `model` is a functional or sequential model.

    Techniques that tap inner layers or change their gradients need the layer graph; a subclassed
    model's `call` hides it.
    """
    if not has_layer_graph(model):
        raise ValueError(
            expected(
                name,
                "a functional or sequential model",
                model,
                f"Model '{model.name}' is a subclassed {type(model).__name__}, whose layer graph "
                "cannot be read, so its inner layers cannot be tapped and its ReLU gradients "
                "cannot be changed. Build it with the functional API (`keras.Model(inputs, "
                "outputs)`), or use a method that needs only the input gradient (vanilla "
                "saliency, gradient_input, integrated_gradients, occlusion).",
            )
        )
    return model


def graph_error(error):
    """Marks `error`, raised while a `tf.function` is being traced, to reach the caller as raised
    (see `keras_vis._keras.pass_through_tracing`)."""
    return _keras.pass_through_tracing(error)


def check_positive_int(value, name, minimum=1, maximum=None):
    """Returns `value` as an int, or raises if it is not an integer in `[minimum, maximum]`."""
    wanted = (f"an integer >= {minimum}" if maximum is None
              else f"an integer in [{minimum}, {maximum}]")
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(expected(name, wanted, value))
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(expected(name, wanted, value))
    return int(value)


def check_flag(value, name):
    """Returns `value` as a bool, or raises `TypeError` if it is not True or False."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(expected(name, "True or False", value))
    return bool(value)


def check_number(value, name, *, low=None, high=None, low_inclusive=True, high_inclusive=True):
    """Returns `value` as a float, or raises if it is not a finite number in the given range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise TypeError(expected(name, "a finite number", value))
    too_low = low is not None and (value < low if low_inclusive else value <= low)
    too_high = high is not None and (value > high if high_inclusive else value >= high)
    if too_low or too_high:
        left = "[" if low_inclusive else "("
        right = "]" if high_inclusive else ")"
        interval = f"{left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"
        raise ValueError(expected(name, f"a number in {interval}", value))
    return float(value)


def check_choice(value, name, choices):
    """Returns `value` if it is one of `choices`, else raises `ValueError` listing them."""
    if value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(expected(name, f"one of {options}", value))
    return value


def error_gist(error):
    """The gist of a layer's error: its first message line, without colours or graph details."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error))
    lines = [line.strip() for line in text.splitlines()
             if line.strip() and not line.startswith("Exception encountered")]
    return (lines[0] if lines else type(error).__name__).split(" for '{{node")[0]


def check_real(array, name="images"):
    """Raises `TypeError` if the numpy `array` holds complex numbers, whose imaginary part a
    conversion to float would drop with no more than a warning."""
    if np.iscomplexobj(array):
        raise TypeError(
            expected(name, "real-valued (pixels and maps have no imaginary part)", array,
                     f"Pass `np.real({name})` or `np.abs({name})`, whichever you mean.")
        )
    return array
