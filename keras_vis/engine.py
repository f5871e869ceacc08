"""The gradient engine: every gradient-based technique runs through here.

For a model, a set of tapped layers, a target, a head policy and a ReLU gradient policy, an `Engine`
returns the model outputs, the tapped activations and the gradients of the target score with respect
to the input and/or the tapped layers, batched by `batch_size`.

The step is a `tf.function` traced once per (model, taps, target kind, policies, outputs wanted,
input shape) and reused: per-image class indices are fed as data, so changing them never retraces.
Engines are cached weakly by model, so they disappear with the model and never keep it alive.
"""

import weakref

import numpy as np
import tensorflow as tf

from keras_vis._checks import check_model, check_positive_int
from keras_vis.surgery import GraphRunner
from keras_vis.targets import Class, as_target

_ENGINES = weakref.WeakKeyDictionary()


class Result(dict):
    """The arrays one engine call produced; keys also readable as attributes.

    Keys: `outputs` (list, one array per model output), `activations` (list, one per tap),
    `scores` (N,), `input_grads` (list, one per model input) and `tap_grads` (list, one per tap),
    where requested.
    """

    __getattr__ = dict.__getitem__


class Engine:
    """A compiled forward/backward step for one model, tap set, target kind and policy.

    Get one with `get_engine`, which caches it; build one directly only to bypass the cache.

    Args:
        model: a built `keras.Model`.
        taps: layers whose activations (and gradients) to return.
        target: a `Target`; its `key()` decides what is compiled.
        head: `"linear"` scores the pre-softmax logits; `"model"` the model's own outputs.
        relu: ReLU gradient policy: `"standard"`, `"guided"` or `"deconvnet"`.
        input_grads: return the gradient of the score with respect to the inputs.
        tap_grads: return the gradient of the score with respect to the tapped activations.
        jit_compile: compile the step with XLA.
        taps_only: compute only the layers up to the taps (no model outputs); lets channel and
            neuron targets run on inputs of another size than the model was built for.
    """

    def __init__(self, model, taps=(), target=None, *, head="linear", relu="standard",
                 input_grads=True, tap_grads=False, jit_compile=False, taps_only=False):
        self.target = as_target(target)
        target_layers = self.target.resolve(model)
        self.taps = list(taps)
        self._all_taps = self.taps + target_layers
        self._runner = GraphRunner(model, self._all_taps, head=head, relu=relu, taps_only=taps_only)
        # A target that taps no layer scores the model outputs, which a taps-only run never computes:
        # such a run is forward-only and returns no scores.
        self._scored = not (taps_only and not target_layers)
        if not self._scored and (input_grads or tap_grads):
            raise ValueError(
                "Expected a `Channel` or `Neuron` target, or `input_grads=False, tap_grads=False`, "
                f"with `taps_only=True`. Received: target={self.target.key()!r}, which scores the "
                "model outputs that a taps-only run does not compute."
            )
        self._taps_only = taps_only
        self._input_grads = input_grads
        self._tap_grads = tap_grads
        self._jit_compile = jit_compile
        self._steps = {}
        self.trace_count = 0

    def _step_for(self, arrays):
        signature = tuple((a.shape[1:], a.dtype) for a in arrays)
        step = self._steps.get(signature)
        if step is None:
            specs = [tf.TensorSpec((None,) + shape, dtype) for shape, dtype in signature]
            step = tf.function(
                self._step,
                input_signature=(specs, tf.TensorSpec((None,), tf.int32)),
                jit_compile=self._jit_compile,
                reduce_retracing=True,
                # The step is plain TensorFlow with Python-level structure only; AutoGraph's
                # source rewriting of the graph runner costs seconds on a large model's first call.
                autograph=False,
            )
            self._steps[signature] = step
        return step

    def _step(self, inputs, class_index):
        self.trace_count += 1
        tap_count = len(self.taps)
        need_gradients = self._input_grads or self._tap_grads
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            # Watching the inputs also records the ops that lead from the taps to the score; an
            # unwatched tap would get no gradient.
            if need_gradients:
                for tensor in inputs:
                    tape.watch(tensor)
            outputs, activations = self._runner(inputs)
            if self._scored:
                scores = self.target.score(outputs, activations[tap_count:], class_index)
        result = {
            "outputs": [] if self._taps_only else [tf.cast(o, tf.float32) for o in outputs],
            "activations": [tf.cast(a, tf.float32) for a in activations[:tap_count]],
        }
        if self._scored:
            result["scores"] = scores
        if need_gradients:
            sources = (list(inputs) if self._input_grads else []) + (
                activations[:tap_count] if self._tap_grads else []
            )
            gradients = tape.gradient(scores, sources)
            gradients = [
                tf.zeros_like(s, tf.float32) if g is None else tf.cast(g, tf.float32)
                for g, s in zip(gradients, sources)
            ]
            split = len(inputs) if self._input_grads else 0
            if self._input_grads:
                result["input_grads"] = gradients[:split]
            if self._tap_grads:
                result["tap_grads"] = gradients[split:]
        return result

    def __call__(self, inputs, class_index=None, *, batch_size=32):
        """Runs the step over `inputs` in chunks of `batch_size`.

        Args:
            inputs: a float32 numpy array, or a list of them for a multi-input model.
            class_index: `(N,)` int32 per-image classes for a `Class` target (`-1` = predicted).
            batch_size: images per compiled call.

        Returns:
            A `Result` of numpy arrays concatenated over the batch.
        """
        arrays = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        count = len(arrays[0])
        batch_size = check_positive_int(batch_size, "batch_size")
        if class_index is None:
            class_index = np.full((count,), -1, np.int32)
        step = self._step_for(arrays)
        chunks = []
        for start in range(0, count, batch_size):
            stop = min(start + batch_size, count)
            out = step([a[start:stop] for a in arrays], class_index[start:stop])
            chunks.append(tf.nest.map_structure(lambda t: t.numpy(), out))
        return Result(_concatenate(chunks))


def _concatenate(chunks):
    if len(chunks) == 1:
        return chunks[0]
    return tf.nest.map_structure(lambda *parts: np.concatenate(parts, axis=0), *chunks)


def get_engine(model, taps=(), target=None, **options):
    """Returns the cached `Engine` for this model and configuration, building it on first use.

    Args:
        model: a built `keras.Model`.
        taps: layers whose activations to return.
        target: anything `keras_vis.targets.as_target` accepts; only its kind and fixed parameters
            (not per-image class indices) select the engine.
        **options: `head`, `relu`, `input_grads`, `tap_grads`, `jit_compile`, `taps_only`
            (see `Engine`).
    """
    check_model(model)
    target = as_target(target)
    key = (tuple(id(layer) for layer in taps), target.key(), tuple(sorted(options.items())))
    engines = _ENGINES.setdefault(model, {})
    engine = engines.get(key)
    if engine is None:
        engine = Engine(model, taps, target, **options)
        engines[key] = engine
    return engine


def run(model, inputs, target=None, *, taps=(), batch_size=32, **options):
    """One-call form: resolves `target` for the batch, gets the cached engine and runs it.

    Args:
        model: a built `keras.Model`.
        inputs: a float32 array `(N, ...)` matching the model input, or a list for multi-input
            models (validate user images with `keras_vis._checks.to_float_batch` first).
        target: any accepted target form (see `keras_vis.targets`).
        taps: layers whose activations (and, with `tap_grads=True`, gradients) to return.
        batch_size: images per compiled call.
        **options: `head`, `relu`, `input_grads`, `tap_grads`, `jit_compile`, `taps_only`.

    Returns:
        A `Result` (see `Result`).
    """
    target = as_target(target)
    engine = get_engine(model, taps, target, **options)
    arrays = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    class_index = None
    if isinstance(target, Class):
        class_index = target.class_indices(model, len(arrays[0]))
    return engine(arrays, class_index, batch_size=batch_size)
