"""Attribution methods by name, for the functions that take `method` as a name or a callable.

The names, aliases, functions and default options are those of `keras_vis.registry`.
"""

import functools
import json

import numpy as np

from keras_vis import registry
from keras_vis._checks import expected
from keras_vis.attribution import _defaults


def resolve_method(method, options, batch_size):
    """Returns `f(model, images, target) -> maps` for a method name or callable.

    Args:
        method: a name or alias from `keras_vis.registry`, or a callable
            `(model, images, target, **options) -> maps`.
        options: keyword options for the method (they override a name's defaults).
        batch_size: passed to named methods (attribution functions batch internally).

    Raises:
        ValueError: for an unknown name (the message lists the known ones).
        TypeError: for anything that is neither a name nor a callable.
    """
    if isinstance(method, str):
        spec = registry.find(method)
        if spec is None:
            raise ValueError(
                expected("method", "an attribution method name or a callable "
                         "`(model, images, target) -> maps`", method,
                         f"Known names: {', '.join(registry.known_names())}.")
            )
        return functools.partial(spec.load(),
                                 **{**spec.defaults, **options, "batch_size": batch_size})
    if callable(method):
        return functools.partial(method, **options) if options else method
    raise TypeError(
        expected("method", "an attribution method name or a callable "
                 "`(model, images, target) -> maps`", method)
    )


def method_name(method):
    """A readable, stable name for a method name or callable (no memory addresses)."""
    if isinstance(method, str):
        return method
    if isinstance(method, functools.partial):
        keywords = sorted(method.keywords.items())
        arguments = ", ".join(f"{k}={describe_option(v)}" for k, v in keywords)
        return f"{method_name(method.func)}({arguments})"
    module = getattr(method, "__module__", None) or ""
    name = getattr(method, "__qualname__", None) or type(method).__qualname__
    return f"{module}.{name}" if module else name


def describe_option(value):
    """A JSON-friendly, run-independent description of an option value."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [describe_option(v) for v in value]
    if isinstance(value, dict):
        return {str(k): describe_option(v) for k, v in sorted(value.items())}
    if callable(value):
        return method_name(value)
    name = getattr(value, "name", None)
    if isinstance(name, str):
        return f"<{type(value).__name__} {name}>"
    text = repr(value)
    try:
        json.dumps(text)
    except TypeError:
        text = type(value).__name__
    return text if " at 0x" not in text else f"<{type(value).__name__}>"
