"""The gradient engine: every gradient-based technique runs through here.

For a model, a set of tapped layers, a target, a head policy and a composite of backward rules, an
`Engine` returns the model outputs, the tapped activations and the gradients of the target score
with respect to the input and/or the tapped layers, batched by `batch_size`.

The step is compiled once per (model, taps, target kind, head, composite, outputs wanted, input
shape) and reused: what the target explains per image (class codes, region masks: see
`keras_vis.targets`) is fed as data, so changing it never retraces.
Engines live in the compiled-step cache of `keras_vis.steps`, keyed weakly by model.

The engine trusts its arguments: the public functions validate the user's once, before calling it.
"""

import weakref

import numpy as np
import tensorflow as tf

from keras_vis import steps
from keras_vis.graph import GraphRunner
from keras_vis.targets import Target, as_target, for_model


class Result(dict):
    """The arrays one engine call produced; keys also readable as attributes.

    Keys: `outputs` (list, one array per model output), `activations` (list, one per tap),
    `scores` (N,), `input_grads` (list, one per model input) and `tap_grads` (list, one per tap),
    where requested.
    """

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(
                f"This engine result has no {name!r}; it holds {', '.join(map(repr, self))}."
            ) from None


class Engine:
    """A compiled forward/backward step for one model, tap set, target kind and composite.

    Get one with `get_engine`, which caches it; build one directly only to bypass the cache.

    Args:
        model: a built `keras.Model`.
        taps: layers whose activations (and gradients) to return.
        target: a `Target`; its `key()` decides what is compiled.
        head: `"linear"` scores the pre-softmax logits; `"model"` the model's own outputs.
        composite: a `keras_vis.rules.Composite` giving layers their backward rules (guided
            backprop, relevance rules...); `None` for the plain gradient. A composite whose rules
            need references (DeepLIFT) makes the step take a reference batch too: the images and
            their references run together, and gradients are those of the images.
        input_grads: return the gradient of the score with respect to the inputs.
        tap_grads: return the gradient of the score with respect to the tapped activations.
        jit_compile: compile the step with XLA.
        taps_only: compute only the layers up to the taps (no model outputs); lets channel and
            neuron targets run on inputs of another size than the model was built for.
    """

    def __init__(self, model, taps=(), target=None, *, head="linear", composite=None,
                 input_grads=True, tap_grads=False, jit_compile=False, taps_only=False):
        target = target if isinstance(target, Target) else as_target(target)
        self.target = for_model(target, model).bind(model, head)
        target_layers = self.target.resolve(model)
        self.taps = list(taps)
        plan = None if composite is None else composite.plan(model, linear_head=head == "linear")
        self._runner = GraphRunner(model, self.taps + target_layers, head=head, plan=plan,
                                   taps_only=taps_only)
        # A target that taps no layer scores the model outputs, which a taps-only run never
        # computes: such a run is forward-only and returns no scores.
        self._scored = not (taps_only and self.target.needs_outputs)
        if not self._scored and (input_grads or tap_grads):
            raise ValueError(
                "Expected a target of inner layers only (`Channel`, `Neuron`, an objective "
                "without `class_logit`), or `input_grads=False, tap_grads=False`, with "
                f"`taps_only=True`. Received: target={self.target.key()!r}, which scores the "
                "model outputs that a taps-only run does not compute."
            )
        self.paired = plan is not None and plan.needs_reference
        self._seed_with_score = composite is not None and composite.seed_with_score
        self._taps_only = taps_only
        self._input_grads = input_grads
        self._tap_grads = tap_grads
        self._jit_compile = jit_compile
        self._model = weakref.ref(model)  # engines are cached by model, which they must not keep
        self._data_spec = self.target.data_spec()
        self._steps = {}

    @property
    def trace_count(self):
        """How many times this engine's steps were traced (once per input signature)."""
        return sum(step.trace_count for step in self._steps.values())

    def _step_for(self, arrays):
        signature = tuple((a.shape[1:], a.dtype) for a in arrays)
        step = self._steps.get(signature)
        if step is None:
            specs = [tf.TensorSpec((None,) + shape, dtype) for shape, dtype in signature]
            step = steps.CompiledStep(
                self._step, (specs, specs if self.paired else [], self._data_spec),
                jit_compile=self._jit_compile)
            self._steps[signature] = step
        return step

    def _step(self, inputs, references, class_index):
        tap_count = len(self.taps)
        need_gradients = self._input_grads or self._tap_grads
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            # Watching the inputs also records the ops that lead from the taps to the score; an
            # unwatched tap would get no gradient.
            if need_gradients:
                for tensor in inputs:
                    tape.watch(tensor)
            batch = ([tf.concat([x, r], 0) for x, r in zip(inputs, references)] if self.paired
                     else list(inputs))
            outputs, activations = self._runner(batch)
            if self.paired:
                count = tf.shape(inputs[0])[0]
                outputs = [None if o is None else o[:count] for o in outputs]
                activations = [a[:count] for a in activations]
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
            # Relevance propagation starts from the score itself, so relevance sums to it.
            seed = tf.stop_gradient(scores) if self._seed_with_score else None
            gradients = steps.gradients(tape, scores, sources, output_gradients=seed)
            split = len(inputs) if self._input_grads else 0
            if self._input_grads:
                result["input_grads"] = gradients[:split]
            if self._tap_grads:
                result["tap_grads"] = gradients[split:]
        return result

    def __call__(self, inputs, class_index=None, *, references=None, batch_size=32):
        """Runs the step over `inputs` in chunks of `batch_size`.

        Args:
            inputs: a float32 numpy array, or a list of them for a multi-input model.
            class_index: the target's per-image data (`Target.data`): `(N,)` int32 classes for a
                `Class` target (`-1` = predicted), `(N, h, w)` float32 masks for a `Region`; by
                default the target's own.
            references: for a paired engine, the reference inputs (same shapes as `inputs`).
            batch_size: images per compiled call.

        Returns:
            A `Result` of numpy arrays concatenated over the batch.
        """
        arrays = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        references = [] if references is None else (
            list(references) if isinstance(references, (list, tuple)) else [references])
        if self.paired and len(references) != len(arrays):
            raise ValueError("Expected one reference batch per input for this paired engine. "
                             f"Received: {len(references)} for {len(arrays)} input(s).")
        count = len(arrays[0])
        if class_index is None:
            class_index = self.target.data(self._model(), arrays)
        class_index = np.asarray(class_index, self._data_spec.dtype.as_numpy_dtype)
        step = self._step_for(arrays)
        chunks = []
        for start in range(0, count, batch_size):
            chunk = slice(start, min(start + batch_size, count))
            out = step([a[chunk] for a in arrays], [r[chunk] for r in references],
                       class_index[chunk])
            chunks.append(tf.nest.map_structure(lambda t: t.numpy(), out))
        return Result(_concatenate(chunks))


def _concatenate(chunks):
    if len(chunks) == 1:
        return chunks[0]
    return tf.nest.map_structure(lambda *parts: np.concatenate(parts, axis=0), *chunks)


def get_engine(model, taps=(), target=None, **options):
    """Returns the cached `Engine` for this model and configuration, building it on first use.

    Args:
        model: a built `keras.Model` (checked by the caller).
        taps: layers whose activations to return.
        target: a `Target` (or anything `keras_vis.targets.as_target` accepts); only its kind and
            fixed parameters (not its per-image data) select the engine.
        **options: `head`, `composite`, `input_grads`, `tap_grads`, `jit_compile`, `taps_only`
            (see `Engine`).
    """
    target = target if isinstance(target, Target) else as_target(target)
    described = {name: value.key() if name == "composite" and value is not None else value
                 for name, value in options.items()}
    key = (tuple(id(layer) for layer in taps), target.key(), tuple(sorted(described.items())))
    return steps.cached(model, "engine", key, lambda: Engine(model, taps, target, **options))


def run(model, inputs, target=None, *, taps=(), classes=None, references=None, batch_size=32,
        **options):
    """One-call form: gets the cached engine for `target` and runs it on the batch.

    Args:
        model: a built `keras.Model`.
        inputs: a float32 array `(N, ...)` matching the model input, or a list for multi-input
            models (validate user images with `keras_vis.batches.to_float_batch` first).
        target: a `Target`, or any accepted target form (see `keras_vis.targets`).
        taps: layers whose activations (and, with `tap_grads=True`, gradients) to return.
        classes: the target's per-image data, if already resolved (`(N,)` int32 classes for a
            `Class`, `(N, h, w)` float32 masks for a `Region`: see `keras_vis.targets`); by
            default read (and checked) from the target.
        references: reference inputs, for a composite that needs them (DeepLIFT).
        batch_size: images per compiled call.
        **options: `head`, `composite`, `input_grads`, `tap_grads`, `jit_compile`, `taps_only`.

    Returns:
        A `Result` (see `Result`).
    """
    target = target if isinstance(target, Target) else as_target(target)
    engine = get_engine(model, taps, target, **options)
    arrays = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    if classes is None:
        classes = target.data(model, arrays)
    return engine(arrays, classes, references=references, batch_size=batch_size)
