"""The compiled steps of every technique: one cache, one way to compile, one trace count.

The attribution engine (`keras_vis.engine`) and the activation-maximization renderer
(`keras_vis.maximization.render`) both keep, per model, objects that own `tf.function` steps.
They get them from `cached`, which keys them weakly by the model (they vanish with it and never
keep it alive), compile their steps as `CompiledStep`s (no AutoGraph, relaxed shapes, traces
counted) and take gradients with `gradients`.

A compiled step holds the model's graph as it was traced: its layers, their activations and their
variables (new weight *values* need no new trace; new variables, activations or layers do). The
cache compares that structure with the model's on every lookup and drops a model's steps when the
user has edited it (`layer.activation = keras.activations.linear`, a `Sequential` popped or grown,
weights rebuilt), so no technique ever computes with a stale graph.
"""

import threading
import weakref

import tensorflow as tf

from keras_vis.layers import iter_layers, is_model

_OWNERS = weakref.WeakKeyDictionary()  # model -> _ModelSteps
_LOCK = threading.Lock()

# Layer attributes a trace reads that users set after building: the fused activation, and the
# parameters of activation layers (`ReLU(max_value=6)`, `LeakyReLU(negative_slope=...)`, ...).
_TRACED_ATTRIBUTES = ("activation", "max_value", "negative_slope", "threshold", "alpha", "axis")


def structure(model):
    """What the compiled steps of `model` depend on besides its weight values.

    Every layer (nested models descended into), in graph order, with the attributes a trace reads
    and the identity of its variables. Equal structures trace to the same graph.
    """
    return tuple(_layer_structure(layer) for layer in iter_layers(model))


def _layer_structure(layer):
    if is_model(layer):
        return (id(layer),)
    attributes = tuple(_comparable(getattr(layer, name, None)) for name in _TRACED_ATTRIBUTES)
    variables = tuple(id(variable) for variable in layer.weights)
    return (id(layer), layer.compute_dtype, attributes, variables)


def _comparable(value):
    if isinstance(value, list):
        return tuple(value)
    return value if value is None or callable(value) else repr(value)


class _ModelSteps:
    """The objects cached for one model, valid while its structure is `structure`."""

    def __init__(self, structure):
        self.structure = structure
        self.owners = {}


def cached(model, kind, key, build):
    """The object cached for `model` under `(kind, key)`, made by `build()` on first use.

    The model's cached objects are dropped first if its structure changed since they were built.

    Args:
        model: the model the object computes with (held weakly).
        kind: what the object is (`"engine"`, `"renderer"`).
        key: a hashable description of the configuration.
        build: a function returning the object.
    """
    current = structure(model)
    with _LOCK:
        entry = _OWNERS.get(model)
        if entry is None or entry.structure != current:
            entry = _OWNERS[model] = _ModelSteps(current)
        owner = entry.owners.get((kind, key))
        if owner is None:
            owner = build()
            entry.owners[(kind, key)] = owner
    return owner


def trace_count(model, kind=None):
    """How many times the steps cached for `model` (of `kind`, or of any kind) were traced."""
    with _LOCK:
        entry = _OWNERS.get(model)
        owners = list(entry.owners.items()) if entry is not None else []
    return sum(owner.trace_count for (owner_kind, _), owner in owners
               if kind is None or owner_kind == kind)


class CompiledStep:
    """A Python step compiled with `tf.function`, counting its traces.

    The step is plain TensorFlow with Python-level structure only, so AutoGraph is off (its source
    rewriting of a large model's graph walk costs seconds on the first call); shapes are relaxed
    so other batch or image sizes do not retrace.

    Args:
        function: the step.
        input_signature: the `tf.TensorSpec` structure of its arguments.
        jit_compile: compile it with XLA.
        relax_shapes: trace shapes generally (a second image size gives `None` dimensions) rather
            than once per exact shape.
    """

    def __init__(self, function, input_signature, *, jit_compile=False, relax_shapes=True):
        self._counted = _Counted(function)
        self._compiled = tf.function(self._counted, input_signature=input_signature,
                                     jit_compile=jit_compile, reduce_retracing=relax_shapes,
                                     autograph=False)
        self._first = threading.Lock()
        self._traced = False

    @property
    def trace_count(self):
        return self._counted.count

    def __call__(self, *args):
        if not self._traced:
            # Threads making their first calls together would each trace the step (and
            # TensorFlow would warn of retracing): the first call traces it, the others wait.
            with self._first:
                result = self._compiled(*args)
                self._traced = True
                return result
        return self._compiled(*args)

    def concrete(self, *specs):
        """The traced graph for `specs`, without running it."""
        return self._compiled.get_concrete_function(*specs)


class _Counted:
    """A function that counts its calls. Being an object, not a closure, TensorFlow tells its
    retracing apart from other steps' (it groups closures of the same code, and would warn that
    the many engines of a session retrace)."""

    def __init__(self, function):
        self.function = function
        self.count = 0

    def __call__(self, *args):
        self.count += 1
        return self.function(*args)


def gradients(tape, target, sources, output_gradients=None):
    """The float32 gradients of `target` with respect to `sources`, zeros where it does not
    depend on a source (instead of `None`)."""
    found = tape.gradient(target, sources, output_gradients=output_gradients)
    return [tf.zeros_like(s, tf.float32) if g is None else tf.cast(g, tf.float32)
            for g, s in zip(found, sources)]
