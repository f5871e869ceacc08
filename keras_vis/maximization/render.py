"""The activation-maximization loop: a compiled step applied to a whole batch of images.

`maximize` renders K images at once (one per index of a batched objective): each step maps the
variable to images, transforms them, runs the model's layers up to the tapped ones (sharing the
model's weights, at any image size), evaluates the objective and updates the variable. The step is
compiled once per `Renderer` (model, objective structure, parameterisation, transforms, optimizer,
input mapping) with relaxed shapes, so neither another image size, another batch size, other
channel indices nor another learning rate retraces it. Renderers live in the compiled-step cache of
`keras_vis.steps`, beside the attribution engines.

Randomness (the starting noise, the transforms' parameters) is drawn per image from its own seed
before the loop: image `i` of a batch is exactly the single run of its objective with that seed.
"""

import numbers

import numpy as np
import tensorflow as tf

from keras_vis._checks import (check_choice, check_flag, check_layer_graph, check_model,
                               check_number, check_positive_int, error_gist, expected)
from keras_vis.batches import check_channels_last, smallest_square
from keras_vis.limits import MAX_SIDE
from keras_vis.layers import layer_of
from keras_vis.maximization.callbacks import Callback, ProgressBar, RenderState
from keras_vis.objectives import TooSmall, as_objective
from keras_vis.maximization.params import get_param
from keras_vis.maximization.transforms import Pipeline, standard
from keras_vis import steps
from keras_vis.graph import GraphRunner

class Adam:
    """Adam on the negated objective, with L2 weight decay added to the gradient (as
    `torch.optim.Adam(weight_decay=...)`, the multi-scale recipe's optimizer)."""

    name, default_lr, slots = "adam", 0.05, 2
    beta_1, beta_2, epsilon = 0.9, 0.999, 1e-8

    def init(self, z):
        return [tf.zeros_like(z), tf.zeros_like(z)]

    def update(self, z, gradient, state, step, lr, weight_decay):
        descent = weight_decay * z - gradient
        m = self.beta_1 * state[0] + (1 - self.beta_1) * descent
        v = self.beta_2 * state[1] + (1 - self.beta_2) * tf.square(descent)
        m_hat = m / (1 - self.beta_1 ** step)
        v_hat = v / (1 - self.beta_2 ** step)
        return z - lr * m_hat / (tf.sqrt(v_hat) + self.epsilon), [m, v]


class Ascent:
    """Plain gradient ascent with each image's gradient L2-normalized (the Keras recipe); a zero
    gradient stays zero instead of dividing by zero."""

    name, default_lr, slots = "ascent", 1.0, 0

    def init(self, z):
        return []

    def update(self, z, gradient, state, step, lr, weight_decay):
        gradient = gradient - weight_decay * z
        axes = list(range(1, z.shape.rank))
        return z + lr * tf.math.l2_normalize(gradient, axis=axes, epsilon=1e-12), []


OPTIMIZERS = {"adam": Adam, "ascent": Ascent}


class Renderer:
    """The compiled step for one model and render configuration; get it with `get_renderer`.

    Attributes:
        trace_count: how many times the step has been traced (1 after any number of renders).
    """

    def __init__(self, model, objective, param, pipeline, optimizer, value_range, preprocess,
                 border):
        self._terms = [term for _, term in objective.terms]
        self._param = param
        self.pipeline = pipeline
        self._optimizer = optimizer
        self._low, self._high = value_range
        self._preprocess = preprocess
        self._border = border
        self.channels = model.inputs[0].shape[-1]
        taps, self._tap_of_term = [], []
        for term in self._terms:
            if term.layer is None:
                self._tap_of_term.append(None)
                continue
            layer = layer_of(model, term.layer)
            position = next((i for i, tap in enumerate(taps) if tap is layer), None)
            if position is None:
                taps.append(layer)
                position = len(taps) - 1
            self._tap_of_term.append(position)
        self._runner = GraphRunner(model, taps, head="linear",
                                   taps_only=not objective.needs_outputs)
        self._shapes = {}
        variable = param.spec(self.channels)
        state = [variable] * optimizer.slots
        scalar = tf.TensorSpec((), tf.float32)
        self._step = steps.CompiledStep(self._step_function, [
            variable, state, scalar, scalar, scalar,
            tf.TensorSpec((2,), tf.int32),
            tf.TensorSpec((len(self._terms),), tf.float32),
            tf.TensorSpec((None, len(self._terms)), tf.int32),
            [tf.TensorSpec((None, *t.float_shape), tf.float32) for t in self._terms],
            [tf.TensorSpec((None, t.size), tf.float32) for t in pipeline.random],
        ])
        self.to_image = steps.CompiledStep(
            param.to_image, [variable, tf.TensorSpec((2,), tf.int32)])
        # Traced per exact size, for the tapped layers' output shapes at that size.
        self._forward = steps.CompiledStep(lambda x: self._runner([x])[1], None,
                                           relax_shapes=False)

    @property
    def trace_count(self):
        """How many times the optimisation step was traced."""
        return self._step.trace_count

    def _values(self, z, size, weights, indices, floats, transform_params):
        image = self._param.to_image(z, size)
        seen = self.pipeline(image, transform_params)
        model_input = self._low + (self._high - self._low) * seen
        if self._preprocess is not None:
            model_input = self._preprocess(model_input)
        outputs, tapped = self._runner([model_input])
        total = 0.0
        for i, (term, tap) in enumerate(zip(self._terms, self._tap_of_term)):
            activation = None if tap is None else tapped[tap]
            value = term.value(activation, outputs, image, indices[:, i], self._border,
                               floats[i])
            total += weights[i] * value
        return total

    def _step_function(self, z, state, step, lr, weight_decay, size, weights, indices, floats,
                       transform_params):
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(z)
            values = self._values(z, size, weights, indices, floats, transform_params)
            total = tf.reduce_sum(values)
        # Zero for an objective that does not depend on the image.
        (gradient,) = steps.gradients(tape, total, [z])
        z, state = self._optimizer.update(z, gradient, state, step, lr, weight_decay)
        return self._param.project(z, size), state, values

    def step(self, z, state, step, lr, weight_decay, size, weights, indices, floats,
             transform_params):
        """One optimisation step for a batch; returns `(z, state, values)` (values `(K,)`)."""
        return self._step(z, state, tf.constant(step, tf.float32), lr, weight_decay,
                          size, weights, indices, floats, transform_params)

    def init_state(self, z):
        return self._optimizer.init(z)

    def tap_shapes(self, height, width):
        """The tapped layers' output shapes for a `(height, width)` input (traced, not run), or
        the exception the layers raise at that size."""
        key = (height, width)
        if key not in self._shapes:
            spec = tf.TensorSpec((1, height, width, self.channels), tf.float32)
            try:
                concrete = self._forward.concrete(spec)
                self._shapes[key] = [tuple(t.shape) for t in concrete.structured_outputs]
            except Exception as error:  # any layer refusing the size; reported by `check_size`
                self._shapes[key] = error
        return self._shapes[key]

    def _fits(self, height, width):
        shapes = self.tap_shapes(height, width)
        if isinstance(shapes, Exception):
            return shapes
        for shape in shapes:
            if any(d == 0 for d in shape[1:]):
                return TooSmall(f"a tapped layer's output would be {shape[1:]}")
        for term, tap in zip(self._terms, self._tap_of_term):
            if tap is not None:
                try:
                    term.check_shape(shapes[tap], self._border)
                except TooSmall as error:
                    return error
        return None

    def check_size(self, height, width):
        """Raises a clear `ValueError` (with the smallest working size) if the tapped layers cannot
        run on a `(height, width)` image."""
        problem = self._fits(height, width)
        if problem is None:
            return
        smallest = smallest_square(lambda n: self._fits(n, n) is None, min(height, width))
        if smallest is None:
            raise problem
        reason = (problem if isinstance(problem, TooSmall)
                  else f"a layer fails: {error_gist(problem)}")
        raise ValueError(
            expected("size", f"at least {smallest} (the smallest input on which the layers up to "
                     "the objective's layers give a usable feature map)", (height, width),
                     f"At this size {reason}.")
        ) from (None if isinstance(problem, TooSmall) else problem)


def get_renderer(model, objective, *, param="pixel", decorrelate=False, transforms=(),
                 optimizer="adam", value_range=(0.0, 255.0), preprocess=None, border=0):
    """The cached `Renderer` for this model and configuration (built on first use).

    Renderers are cached weakly by model, so they never keep a model alive. Only the structure of
    the objective matters: indices and weights are data.
    """
    objective = as_objective(objective)
    param = get_param(param, decorrelate)
    pipeline = transforms if isinstance(transforms, Pipeline) else Pipeline(transforms)
    optimizer = OPTIMIZERS[check_choice(optimizer, "optimizer", tuple(OPTIMIZERS))]()
    value_range = tuple(float(v) for v in value_range)
    key = (objective.key(), param.key(), pipeline.key(), optimizer.name, value_range, preprocess,
           border)
    return steps.cached(model, "renderer", key, lambda: Renderer(
        model, objective, param, pipeline, optimizer, value_range, preprocess, border))


def trace_count(model):
    """How many times render steps were traced for `model`, over all its cached renderers."""
    return steps.trace_count(model, "renderer")


def maximize(model, objective, *, size=None, steps=128, optimizer="adam", lr=None, seed=None,
             transforms="standard", param="pixel", decorrelate=False, upscaling_steps=0,
             upscaling_factor=1.2, blur=None, border=0, weight_decay=0.0,
             value_range=(0, 255), preprocess=None, deprocess=None, batch_size=None,
             callbacks=(), progress=True):
    """Renders images that maximize `objective` by gradient ascent on the input.

    The image lives in [0, 1] units (mid-grey 0.5); the model sees
    `preprocess(low + (high - low) * transformed_image)` with `(low, high) = value_range`. Channel
    and neuron objectives run only the layers up to their layer, on an input of the requested `size`
    (VGG16 with its 224² classifier top can be rendered at 64²); class objectives run the whole
    model, so `size` must be the model's input size when it is fixed.

    Example:
        >>> from keras_vis.maximization import maximize, objectives
        >>> images = maximize(vgg16, objectives.channel("block3_conv1", range(8)), size=64,
        ...                   steps=32, preprocess=keras.applications.vgg16.preprocess_input)
        >>> images.shape
        (8, 64, 64, 3)

    Args:
        model: a built functional or sequential `keras.Model` with one image input `(N, H, W, C)`.
        objective: an `Objective` (see `keras_vis.objectives`), a `keras_vis.Channel` /
            `Neuron` / `Class` target, or a class index (its logit). A batched objective
            (`channel(layer, range(64))`) renders one image per index, all in one batch.
        size: the starting image size, an int or `(height, width)`; default the model's input size,
            or 128 when the model takes any size.
        steps: optimisation steps (per scale, with upscaling).
        optimizer: `"adam"` or `"ascent"` (gradient ascent with per-image L2-normalized gradients).
        lr: learning rate in [0, 1] image units; default 0.05 for Adam, 1.0 for ascent.
        seed: `None` (a fresh random seed), an int `s` (image `i` uses seed `s + i`), or a list of
            one int per image (which may also set the number of images for an unbatched
            objective). Image `i` equals the single render of its objective with seed `s + i`
            (unless the objective has a `diversity` term, which ties the images together).
        transforms: random transforms applied at every step: `"standard"` (lucid's jitter, scale,
            rotate, jitter), or a sequence of `keras_vis.maximization.transforms` objects and callables
            (`()` for none).
        param: `"pixel"`, `"fourier"` or a `keras_vis.maximization.params.Param`.
        decorrelate: optimize colours in the decorrelated ImageNet colour basis (RGB models).
        upscaling_steps: how many times to enlarge the image (bicubic) and optimize `steps` more.
        upscaling_factor: the enlargement factor of each upscaling (size becomes `int(size * f)`).
        blur: `None`, or the size of a box blur applied after each upscaling.
        border: feature-map border band left out of channel objectives that do not set their own.
        weight_decay: L2 pull of the variable towards its mean (the multi-scale recipe uses 1e-6).
        value_range: `(low, high)` model input values that image values 0 and 1 map to; `(0, 255)`
            suits models that take 0–255 images (add `preprocess` for those that need it).
        preprocess: `None` or a function applied to the `value_range` image inside the step (e.g.
            `keras.applications.vgg16.preprocess_input`).
        deprocess: `None` (clip to [0, 1]) or a function from the float32 `(K, H, W, C)` [0, 1]-unit
            images to displayable images, float in [0, 1] or uint8 (e.g.
            `keras_vis.maximization.deprocess`).
        batch_size: render at most this many images at once. The default bounds the pixels of a
            batch (at the largest scale): 2**16 on CPU, where small batches stay in cache and run
            faster (16 images of 64×64), 2**22 on an accelerator. Results do not depend on it.
            An objective with a `diversity` term renders all its images in one batch.
        callbacks: `keras_vis.maximization.callbacks.Callback` objects.
        progress: show a progress bar.

    Returns:
        uint8 numpy array `(K, H, W, C)`, values 0–255: the final images (`C` is the model's input
        channels, 3 for RGB), deprocessed; `H, W` is the last scale's size (or what `deprocess`
        returns).

    Raises:
        TypeError, ValueError: for a model without a single image input, an objective the model
            cannot compute (unknown layer, channel index out of range, a spatial objective on a
            dense layer), a size below the layers' minimum input or different from a fixed input
            size a class objective needs, non-positive `steps`, and other malformed options.
    """
    check_model(model)
    shape = _image_input_shape(model)
    objective = as_objective(objective)
    steps = check_positive_int(steps, "steps")
    optimizer_name = check_choice(optimizer, "optimizer", tuple(OPTIMIZERS))
    lr = OPTIMIZERS[optimizer_name].default_lr if lr is None else check_number(
        lr, "lr", low=0, low_inclusive=False)
    upscaling_steps = check_positive_int(upscaling_steps, "upscaling_steps", minimum=0)
    upscaling_factor = check_number(upscaling_factor, "upscaling_factor", low=1,
                                    low_inclusive=False)
    blur = None if blur is None else check_positive_int(blur, "blur")
    border = check_positive_int(border, "border", minimum=0)
    weight_decay = check_number(weight_decay, "weight_decay", low=0)
    value_range = check_value_range(value_range)
    for name, function in (("preprocess", preprocess), ("deprocess", deprocess)):
        if function is not None and not callable(function):
            raise TypeError(expected(name, "None or a function", function))
    if transforms == "standard":
        transforms = standard()
    callbacks = _check_callbacks(callbacks, progress)
    sizes = _scale_sizes(resolve_size(size, model), upscaling_steps, upscaling_factor)
    _check_full_model_size(sizes, shape, objective)
    seeds = _seeds(seed, objective.count)
    count = len(seeds)
    batch_size = _batch_size(batch_size, sizes[-1], count, objective)

    param = get_param(param, decorrelate)
    param.check(shape[-1])
    for _, term in objective.terms:
        term.check(model)
    renderer = get_renderer(model, objective, param=param, transforms=transforms,
                            optimizer=optimizer_name, value_range=value_range,
                            preprocess=preprocess, border=border)
    renderer.check_size(*sizes[0])

    weights = tf.constant(objective.weights())
    indices = objective.data(count)
    floats = objective.floats(count)
    draw = _Draws(seeds, param, renderer.pipeline, sizes[0], shape[-1], steps * len(sizes))
    output = _Output(renderer, deprocess)
    finals = []
    batches = -(-count // batch_size)
    for batch, first in enumerate(range(0, count, batch_size)):
        chosen = slice(first, min(first + batch_size, count))
        state = RenderState(batch, batches, first, steps * len(sizes), output.read)
        z = tf.constant(np.stack(draw.starts[chosen]))
        output.z, output.size = z, sizes[0]
        state.size = sizes[0]
        for callback in callbacks:
            callback.on_batch_begin(state)
        batch_indices = tf.constant(indices[chosen])
        batch_floats = [tf.constant(f[chosen]) for f in floats]
        for scale, size_now in enumerate(sizes):
            if scale:
                z = _upscale(renderer, param, z, sizes[scale - 1], size_now, blur)
            optimizer_state = renderer.init_state(z)
            size_tensor = tf.constant(size_now, tf.int32)
            for step in range(steps):
                done = scale * steps + step
                z, optimizer_state, values = renderer.step(
                    z, optimizer_state, step + 1, lr, weight_decay, size_tensor, weights,
                    batch_indices, batch_floats, draw.transform_params(chosen, done))
                output.z, output.size = z, size_now
                state.step, state.scale, state.size = done + 1, scale, size_now
                state._values = values
                for callback in callbacks:
                    callback.on_step_end(state)
        for callback in callbacks:
            callback.on_batch_end(state)
        finals.append(output.read())
    images = np.concatenate(finals, axis=0)
    for callback in callbacks:
        callback.on_end(images)
    return images


def _batch_size(batch_size, size, count, objective):
    if objective.couples_batch:
        if batch_size is not None and check_positive_int(batch_size, "batch_size") < count:
            raise ValueError(
                expected("batch_size", f"None or at least {count}, the images of the objective",
                         batch_size, "Its diversity term compares every image with the others, "
                         "so they are rendered in one batch.")
            )
        return count
    if batch_size is None:
        batch_size = default_batch_size(size)
    return min(check_positive_int(batch_size, "batch_size"), count)


def default_batch_size(size):
    """How many `size` images to render at once: a bound on the pixels of a batch."""
    budget = 2**22 if tf.config.list_logical_devices("GPU") else 2**16
    return max(1, budget // (size[0] * size[1]))


class _Draws:
    """Every image's random numbers, drawn from its own seed: the start and the transforms."""

    def __init__(self, seeds, param, pipeline, size, channels, total_steps):
        self.starts, params = [], []
        for seed in seeds:
            rng = np.random.default_rng(seed)
            self.starts.append(param.init(rng, size[0], size[1], channels))
            params.append(pipeline.sample(rng, total_steps))
        # One (images, steps, size) array per random transform.
        self._params = [np.stack(per_transform, axis=0) for per_transform in zip(*params)]

    def transform_params(self, chosen, step):
        return [tf.constant(p[chosen, step]) for p in self._params]


class _Output:
    """Reads the current variable back as the uint8 images `maximize` returns."""

    def __init__(self, renderer, deprocess):
        self._renderer, self._deprocess = renderer, deprocess
        self.z = self.size = None

    def read(self):
        images = self._renderer.to_image(self.z, tf.constant(self.size, tf.int32)).numpy()
        return _displayable(images if self._deprocess is None else self._deprocess(images))


def _displayable(images):
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images
    images = np.nan_to_num(images.astype(np.float32), nan=0.5, posinf=1.0, neginf=0.0)
    return np.round(np.clip(images, 0.0, 1.0) * 255.0).astype(np.uint8)


def _upscale(renderer, param, z, old_size, new_size, blur):
    image = renderer.to_image(z, tf.constant(old_size, tf.int32))
    image = tf.image.resize(image, new_size, method="bicubic")
    if blur is not None and blur > 1:
        image = box_blur(image, blur)
    return tf.convert_to_tensor(param.from_image(image), tf.float32)


def box_blur(images, size):
    """Mean over a `size`×`size` window with mirrored borders, as `cv2.blur`."""
    before, after = size // 2, size - 1 - size // 2
    height, width = images.shape[1], images.shape[2]
    if max(before, after) >= min(height, width):
        return images
    padded = tf.pad(images, [[0, 0], [before, after], [before, after], [0, 0]], mode="REFLECT")
    return tf.nn.avg_pool2d(padded, size, strides=1, padding="VALID")


def _image_input_shape(model):
    check_layer_graph(model)
    check_channels_last(model)
    inputs = model.inputs or []
    if len(inputs) != 1 or len(inputs[0].shape) != 4:
        raise ValueError(
            expected("model", "a model with one image input of shape (N, H, W, C)", model,
                     f"Its inputs have shapes {[tuple(i.shape) for i in inputs]}.")
        )
    return tuple(inputs[0].shape)


def check_value_range(value_range):
    if (not isinstance(value_range, (tuple, list)) or len(value_range) != 2
            or not all(isinstance(v, numbers.Real) and not isinstance(v, bool)
                       for v in value_range)
            or not np.all(np.isfinite(value_range)) or value_range[0] >= value_range[1]):
        raise ValueError(
            expected("value_range", "a pair (low, high) of finite numbers with low < high",
                     value_range, "Use (0, 255) for 0–255 images, (0, 1) or (-1, 1) otherwise.")
        )
    return (float(value_range[0]), float(value_range[1]))


def _check_callbacks(callbacks, progress):
    if isinstance(callbacks, Callback):
        callbacks = [callbacks]
    if not isinstance(callbacks, (list, tuple)) or not all(
        isinstance(c, Callback) for c in callbacks
    ):
        raise TypeError(
            expected("callbacks", "a list of `keras_vis.maximization.callbacks.Callback` objects",
                     callbacks)
        )
    return list(callbacks) + ([ProgressBar()] if check_flag(progress, "progress") else [])


def resolve_size(size, model):
    """`(height, width)` from an int, a pair, or `None` (the model's input size, else 128)."""
    if size is None:
        fixed = tuple(_image_input_shape(model)[1:3])
        return fixed if None not in fixed else (128, 128)
    if isinstance(size, (tuple, list)) and len(size) == 2:
        return tuple(check_positive_int(s, "size", maximum=MAX_SIDE) for s in size)
    if not isinstance(size, numbers.Integral) or isinstance(size, bool):
        raise TypeError(expected("size", "an int or a (height, width) pair", size))
    size = check_positive_int(size, "size", maximum=MAX_SIDE)
    return size, size


def _check_full_model_size(sizes, shape, objective):
    fixed = tuple(shape[1:3])
    if objective.needs_outputs and None not in fixed and any(s != fixed for s in sizes):
        raise ValueError(
            expected("size", f"the model's input size {fixed} for a class objective, at every "
                     "scale", sizes[0] if len(sizes) == 1 else sizes,
                     "Class scores need the whole model, whose input size is fixed; channel and "
                     "neuron objectives work at any size.")
        )


def _scale_sizes(size, upscaling_steps, factor):
    sizes = [size]
    for _ in range(upscaling_steps):
        height, width = sizes[-1]
        sizes.append((int(height * factor), int(width * factor)))
    return sizes


def _seeds(seed, count):
    if seed is None:
        base = int(np.random.SeedSequence().generate_state(1)[0])
        return [base + i for i in range(count or 1)]
    if isinstance(seed, (list, tuple, np.ndarray)):
        seeds = list(seed)
        if not seeds or not all(isinstance(s, (numbers.Integral, np.integer))
                                and not isinstance(s, bool) and s >= 0 for s in seeds):
            raise ValueError(expected("seed", "None, a non-negative int or a non-empty list of "
                                      "them", seed))
        if count is not None and len(seeds) != count:
            raise ValueError(
                expected("seed", f"an int or a list of {count} seeds, one per image", seed,
                         f"The objective renders {count} images.")
            )
        return [int(s) for s in seeds]
    if not isinstance(seed, (numbers.Integral, np.integer)) or isinstance(seed, bool):
        raise TypeError(expected("seed", "None, a non-negative int or a list of ints", seed))
    if seed < 0:
        raise ValueError(expected("seed", "a non-negative int", seed))
    return [int(seed) + i for i in range(count or 1)]

