"""Keras callbacks that log keras_vis pictures and metrics to TensorBoard while a model trains.

    >>> history = model.fit(x, y, epochs=20, callbacks=[
    ...     keras.callbacks.TensorBoard("logs"),
    ...     keras_vis.callbacks.ExplainCallback((x_val[:8], y_val[:8]), log_dir="logs"),
    ... ])

and `tensorboard --logdir logs` shows them.

Every callback writes with `tf.summary` into the run `<log_dir>/keras_vis`, beside the `train` and
`validation` runs of `keras.callbacks.TensorBoard`, so one board shows the loss curves and the
pictures. Steps are epochs counted as that callback counts them (the first epoch is step 0). A
callback logs after the first epoch, every `every` epochs after it and after the last one.

The callbacks only read the model: they never change it, never touch its train step, and compute
through the package's compiled steps, which are traced once and reused as the weights change.
Their own progress bars stay quiet, so the Keras progress bar is the only one on the terminal.
"""

import functools
import inspect
import os
import threading

import keras
import matplotlib
import numpy as np
import tensorflow as tf

from keras_vis import pixels, registry
from keras_vis._checks import check_positive_int, expected
from keras_vis.batches import to_float_batch
from keras_vis.attribution._maps import center
from keras_vis.inspect import feature_maps
from keras_vis.layers import layer_of
from keras_vis.maximization import maximize
from keras_vis.objectives import as_objective
from keras_vis.metrics.evaluate import evaluate_on, metrics_for
from keras_vis.metrics._methods import method_name, resolve_method
from keras_vis.plot import filter_tiles, overlay
from keras_vis.progress import silenced
from keras_vis.registry import METRIC_INPUTS
from keras_vis.report.pictures import enlarge, rgb

RUN = "keras_vis"
"""The run (subfolder of `log_dir`) the callbacks write to."""

# Small maps and kernels are enlarged (nearest neighbour) to at least this many pixels a side.
MIN_TILE_SIDE = 32

_WRITERS = {}
_WRITERS_LOCK = threading.Lock()


def run_dir(log_dir):
    """The folder the callbacks with this `log_dir` write their event file to."""
    return os.path.join(os.fspath(log_dir), RUN)


def _writer(log_dir):
    """One summary writer per run folder, shared by every callback logging there: TensorBoard
    reads one event file per writer, and several open in one folder would interleave."""
    folder = os.path.abspath(run_dir(log_dir))
    with _WRITERS_LOCK:
        if folder not in _WRITERS:
            _WRITERS[folder] = tf.summary.create_file_writer(folder)
        return _WRITERS[folder]


def _check_log_dir(log_dir):
    if not isinstance(log_dir, (str, os.PathLike)) or not os.fspath(log_dir):
        raise TypeError(expected("log_dir", "a folder path (the `log_dir` of "
                                 "`keras.callbacks.TensorBoard`)", log_dir))
    return os.fspath(log_dir)


class _EpochLogger(keras.callbacks.Callback):
    """Writes summaries at the end of the epochs it is due, under the epoch as step."""

    def __init__(self, log_dir, every):
        super().__init__()
        self.log_dir = _check_log_dir(log_dir)
        self.every = check_positive_int(every, "every")

    def on_train_begin(self, logs=None):
        # Checked before the first epoch, so a wrong layer name does not cost an epoch of training.
        self.check(self.model)

    def on_epoch_end(self, epoch, logs=None):
        if not self.due(epoch):
            return
        writer = _writer(self.log_dir)
        with silenced(), writer.as_default(step=epoch):
            self.log(self.model)
        writer.flush()

    def due(self, epoch):
        """Whether the callback logs at the end of `epoch` (0-based)."""
        last = (self.params or {}).get("epochs")
        return epoch % self.every == 0 or (last is not None and epoch == last - 1)

    def check(self, model):
        """Raises a clear error if the callback cannot run on `model`."""

    def log(self, model):
        """Writes the summaries of the current weights (the writer and step are set)."""
        raise NotImplementedError


def _fixed_examples(images, max_images=None):
    """`(inputs, labels or None)`: at most `max_images` examples (all for `None`) as numpy
    arrays, from an array, an `(images, labels)` tuple or a `tf.data.Dataset` of images or
    `(images, labels, ...)`."""
    if max_images is not None:
        max_images = check_positive_int(max_images, "max_images")
    if isinstance(images, tf.data.Dataset):
        inputs, labels = _dataset_examples(images, max_images)
    elif isinstance(images, tuple) and len(images) == 2:
        inputs, labels = images
    else:
        inputs, labels = images, None
    inputs = np.asarray(keras.ops.convert_to_numpy(inputs) if keras.ops.is_tensor(inputs)
                        else inputs)
    if inputs.ndim != 4 or len(inputs) == 0:
        raise ValueError(expected("images", "a batch of images (N, H, W, C), an (images, labels) "
                                  "pair or a tf.data.Dataset of them", inputs))
    if labels is not None:
        labels = _class_indices(labels, len(inputs))[:max_images]
    return inputs[:max_images], labels


def _dataset_examples(dataset, max_images):
    spec = dataset.element_spec
    first = spec[0] if isinstance(spec, tuple) else spec
    if len(first.shape) == 4:  # batched
        dataset = dataset.unbatch()
    elements = list(dataset.take(-1 if max_images is None else max_images)
                    .as_numpy_iterator())
    if not elements:
        raise ValueError(expected("images", "a dataset with at least one example", dataset))
    if isinstance(elements[0], tuple):
        return (np.stack([element[0] for element in elements]),
                np.stack([element[1] for element in elements]))
    return np.stack(elements), None


def _class_indices(labels, count):
    """Class indices `(N,)` from integer labels `(N,)` / `(N, 1)` or one-hot rows `(N, K)`."""
    array = np.asarray(keras.ops.convert_to_numpy(labels) if keras.ops.is_tensor(labels)
                       else labels)
    if array.ndim == 2 and array.shape[1] > 1:
        array = array.argmax(axis=1)
    elif array.ndim == 2:
        array = array[:, 0]
    if (array.ndim != 1 or len(array) != count or not np.issubdtype(array.dtype, np.number)
            or not np.all(np.equal(np.mod(array, 1), 0))):
        raise ValueError(expected("labels", f"{count} class indices (N,) or one-hot rows (N, K), "
                                  "one per image", labels))
    return array.astype(np.int64)


def _accepted(function):
    """The keyword names `function` takes, or `None` if it takes any (`**kwargs`)."""
    parameters = inspect.signature(function).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    return {p.name for p in parameters}


def _only_accepted(function, options):
    accepted = _accepted(function)
    return dict(options) if accepted is None else {
        name: value for name, value in options.items() if name in accepted}


def _check_options_used(functions, options, what):
    """Raises `TypeError` for an option none of `functions` takes (a typo would go unseen)."""
    unused = [name for name in options
              if not any(name in _only_accepted(function, options) for function in functions)]
    if unused:
        raise TypeError(expected("options", f"keyword options of {what}", unused[0],
                                 "Check the spelling against the method's documentation."))


class _Method:
    """An attribution method ready to run: its function with its options, and its drawing."""

    def __init__(self, method, options, batch_size):
        spec = registry.find(method) if isinstance(method, str) else None
        self.function = resolve_method(method, {}, batch_size)  # the name is checked here
        self.name = spec.name if spec else method_name(method)
        self.drawing = (spec.drawing if spec and spec.drawing else registry.OVER_IMAGE)
        self.raw = spec.load() if spec else method
        self.options = _only_accepted(self.raw, options)
        if self.drawing.signed:
            self.options["normalize"] = False

    def maps(self, model, inputs, target):
        maps = self.function(model, inputs, target, **self.options)
        return center(maps) if self.drawing.signed else np.asarray(maps)


def _methods(methods, options, batch_size):
    methods = (methods,) if isinstance(methods, str) or callable(methods) else tuple(methods)
    if not methods:
        raise ValueError(expected("methods", "at least one method name or callable", methods,
                                  f"Known names: {', '.join(registry.known_names())}."))
    prepared = [_Method(method, options, batch_size) for method in methods]
    _check_options_used([method.raw for method in prepared], options, "the methods")
    return prepared


def _targets(target, labels):
    return labels if target is None else target


def _check_inputs(inputs, model):
    to_float_batch(inputs, model)  # raises a clear error for images the model cannot take


class ExplainCallback(_EpochLogger):
    """Logs the maps of fixed images for each method, over the images, as the model trains.

    Example:
        >>> callback = keras_vis.callbacks.ExplainCallback(
        ...     (x_val[:8], y_val[:8]), methods=("gradcam", "vanilla"), log_dir="logs")
        >>> history = model.fit(x, y, epochs=10, callbacks=[callback])

    Tags are `explain/<method>`: one image per example, drawn as `keras-vis report` draws the
    method (class activation maps over the image, gradients on their own, signed relevance red
    for and blue against the class).

    Args:
        images: the model inputs `(N, H, W, C)`, an `(images, labels)` pair (labels as class
            indices or one-hot rows), or a `tf.data.Dataset` of either (its first examples are
            taken once).
        methods: method names of `keras_vis.registry` (`"gradcam"`, `"vanilla"`, `"lrp"`, ...) or
            callables `(model, images, target, **options) -> maps`.
        target: what to explain; `None` for the true labels when `images` has them, else each
            image's predicted class at the epoch; or a class index, one index per image or a
            `keras_vis` target.
        log_dir: the folder of the TensorBoard logs.
        every: log every this many epochs.
        layer: the layer of the methods that take one (the CAM family); default each method's.
        max_images: log at most this many examples (the first ones).
        display: the pictures the maps are drawn over (uint8 `(N, H, W, 3)` or floats in [0, 1]);
            default the inputs mapped to 0–255 by their range.
        display_size: small pictures are enlarged by a whole factor (nearest neighbour) until
            their shorter side is at least this many pixels, the maps drawn over them at that
            size (as `keras-vis report --display-size` does); `None` keeps the input size.
        batch_size: images per compiled call.
        **options: options of the methods (`smooth_samples=8`); each goes to the methods that
            take it.

    Raises:
        ValueError, TypeError: for unknown methods, an option no method takes, malformed images or
            labels; at the start of `fit`, for images the model cannot take.
    """

    def __init__(self, images, *, methods=("gradcam",), target=None, log_dir, every=1,
                 layer=None, max_images=8, display=None, display_size=128, batch_size=32,
                 **options):
        super().__init__(log_dir, every)
        self.inputs, self.labels = _fixed_examples(images, max_images)
        if layer is not None:
            options["layer"] = layer
        self.methods = _methods(methods, options, check_positive_int(batch_size, "batch_size"))
        self.target = target
        self.display = _display(display, self.inputs)
        if display_size is not None:
            size = check_positive_int(display_size, "display_size")
            self.display = np.stack([enlarge(picture, size) for picture in self.display])

    def check(self, model):
        _check_inputs(self.inputs, model)

    def log(self, model):
        target = _targets(self.target, self.labels)
        for method in self.methods:
            maps = method.maps(model, self.inputs, target)
            drawn = np.stack([
                overlay(picture, heatmap, cmap=method.drawing.cmap, alpha=method.drawing.alpha,
                        normalize=not method.drawing.signed)
                for picture, heatmap in zip(self.display, maps)])
            tf.summary.image(f"explain/{method.name}", drawn, max_outputs=len(drawn))


def _display(display, inputs):
    if display is None:
        return np.stack([rgb(picture) for picture in pixels.to_uint8_by_range(inputs)])
    pictures = np.stack([rgb(picture) for picture in pixels.to_uint8(display, "display")])
    if pictures.shape[:3] != inputs.shape[:3]:
        raise ValueError(expected("display", f"one picture per image, {inputs.shape[1:3]} "
                                  "pixels each", pictures))
    return pictures


def _colour(values, cmap):
    """Colour-maps `(..., h, w)` values in [0, 1] (NaN white) to uint8 RGB."""
    colours = matplotlib.colormaps[cmap](np.nan_to_num(values, nan=0.0))[..., :3]
    colours[np.isnan(values)] = 1.0
    return np.round(colours * 255).astype(np.uint8)


def _check_cmap(cmap):
    if cmap not in matplotlib.colormaps:
        raise ValueError(expected("cmap", "a matplotlib colormap name", cmap,
                                  "For example 'viridis', 'inferno', 'gray'."))
    return cmap


def _grid(tiles, cols=None):
    """Equal-sized uint8 tiles, each enlarged to `MIN_TILE_SIDE`, laid out with white gaps."""
    enlarged = np.stack([enlarge(tile, MIN_TILE_SIDE) for tile in tiles])
    return pixels.tile(enlarged, cols=cols)


def _as_list(layers, name):
    single = isinstance(layers, (str, int, keras.Operation))
    layers = [layers] if single else list(layers)
    if not layers:
        raise ValueError(expected(name, "at least one layer", layers))
    return layers


class FeatureMapsCallback(_EpochLogger):
    """Logs the first feature maps of chosen layers for fixed images as the model trains.

    Tags are `feature_maps/<layer>`: per image, a grid of the layer's first `max_channels`
    channels, each scaled to its own range (bright = strong).

    Args:
        images: the model inputs `(N, H, W, C)` (or an `(images, labels)` pair, or a
            `tf.data.Dataset`, as in `ExplainCallback`).
        layers: a layer name (nested layers as `"outer/inner"`), index or object, or a list; each
            must have a spatial output `(N, h, w, c)`.
        log_dir: the folder of the TensorBoard logs.
        every: log every this many epochs.
        max_channels: channels drawn per layer.
        max_images: log at most this many images.
        cmap: matplotlib colormap of the maps.
    """

    def __init__(self, images, layers, *, log_dir, every=1, max_channels=16, max_images=8,
                 cmap="viridis"):
        super().__init__(log_dir, every)
        self.inputs, _ = _fixed_examples(images, max_images)
        self.layers = _as_list(layers, "layers")
        self.max_channels = check_positive_int(max_channels, "max_channels")
        self.cmap = _check_cmap(cmap)

    def check(self, model):
        # One image through the compiled step the epochs reuse: unknown layers fail here.
        for name, values in feature_maps(model, self.inputs[:1], self.layers).items():
            if values.ndim != 4:
                raise ValueError(expected("layers", "layers with a spatial output (N, h, w, c)",
                                          name, f"Its output has shape {values.shape[1:]} per "
                                          "image."))

    def log(self, model):
        for name, values in feature_maps(model, self.inputs, self.layers).items():
            count = min(values.shape[-1], self.max_channels)
            channels = np.moveaxis(values[..., :count], -1, 1)  # (N, c, h, w)
            grids = [_grid(_colour(pixels.scale_each_to_uint8(maps) / 255.0, self.cmap))
                     for maps in channels]
            tf.summary.image(f"feature_maps/{name}", np.stack(grids), max_outputs=len(grids),
                             description=f"The first {count} channels of {name}, each scaled to "
                                         "its own range.")


class FiltersCallback(_EpochLogger):
    """Logs the kernels of chosen convolutions as the model trains, as `plot.filters` draws them.

    Tags are `filters/<layer>`: one grid per layer, colour tiles for the first convolution of an
    RGB model, grey grids of the input channels of each filter otherwise.

    Args:
        layers: a 2D convolution layer name, index or object, or a list of them.
        log_dir: the folder of the TensorBoard logs.
        every: log every this many epochs.
        max_filters: filters drawn per layer (the first ones).
        max_channels: input channels per filter in grey grids.
    """

    def __init__(self, layers, *, log_dir, every=1, max_filters=64, max_channels=9):
        super().__init__(log_dir, every)
        self.layers = _as_list(layers, "layers")
        self.max_filters = check_positive_int(max_filters, "max_filters")
        self.max_channels = check_positive_int(max_channels, "max_channels")

    def _tiles(self, model, layer):
        return filter_tiles(model, layer, max_filters=self.max_filters,
                            max_channels=self.max_channels)

    def check(self, model):
        for layer in self.layers:
            self._tiles(model, layer)

    def log(self, model):
        for layer in self.layers:
            tiles, title = self._tiles(model, layer)
            picture = _grid([_colour(tile, "gray") if tile.ndim == 2
                             else np.round(tile * 255).astype(np.uint8) for tile in tiles])
            name = layer_of(model, layer).name
            tf.summary.image(f"filters/{name}", picture[None], description=title)


class MaximizeCallback(_EpochLogger):
    """Logs images that maximize a class or channels as the weights change.

    Each log renders the objective from the same random start (`seed`), so what changes from one
    log to the next is the model, not the noise. Tags are `maximize/<name>`: one grid of the
    objective's images.

    Args:
        objective: what `keras_vis.maximize` takes: an objective
            (`objectives.channel("conv2", range(8))`), a `keras_vis.Class` / `Channel` / `Neuron`
            target or a class index.
        log_dir: the folder of the TensorBoard logs.
        every: log every this many epochs (rendering costs `steps` gradient steps).
        steps: optimisation steps per render.
        name: the tag's name; default the objective as written (`channel('conv2', [0, 1])`).
        seed: the seed of the random start.
        **options: more options of `keras_vis.maximize` (`size`, `lr`, `transforms`,
            `preprocess`, ...).
    """

    def __init__(self, objective, *, log_dir, every=5, steps=64, name=None, seed=0, **options):
        super().__init__(log_dir, every)
        self.objective = as_objective(objective)
        self.steps = check_positive_int(steps, "steps")
        self.name = repr(self.objective) if name is None else str(name)
        _check_options_used([maximize], options, "`keras_vis.maximize`")
        if {"progress", "callbacks"} & set(options):
            raise TypeError(expected("options", "options of the render itself",
                                     sorted({"progress", "callbacks"} & set(options))[0],
                                     "The callback renders quietly, without step callbacks."))
        self.options = {**options, "seed": seed}

    def check(self, model):
        for _, term in self.objective.terms:
            term.check(model)

    def log(self, model):
        images = maximize(model, self.objective, steps=self.steps, progress=False, **self.options)
        picture = _grid([rgb(image) for image in images])
        tf.summary.image(f"maximize/{self.name}", picture[None],
                         description=f"{self.steps} steps of gradient ascent on {self.name}.")


class FaithfulnessCallback(_EpochLogger):
    """Logs, as scalars, how faithful each method's maps are as the model trains: the `score` of
    each metric of `keras_vis.registry.METRICS` it is given.

    With object masks, by default the pointing game (the share of images whose map peaks on the
    object) and energy pointing (the share of the map's mass on it): does the model look at the
    object or at the background? With labels, by default the deletion AUC (the area under the
    class probability as the most important pixels are removed; lower is more faithful). Tags are
    `faithfulness/<method>/<metric>`.

    Args:
        images: the model inputs `(N, H, W, C)`.
        masks_or_labels: object masks `(N, H, W)` (true on the object), or class indices `(N,)` /
            one-hot rows `(N, K)`.
        methods: method names of `keras_vis.registry` or callables, as in `ExplainCallback`.
        log_dir: the folder of the TensorBoard logs.
        metrics: names of `keras_vis.registry.METRICS`; `None` for every metric that reads object
            masks when masks are given, `("deletion",)` with labels. A metric reading masks needs
            masks.
        every: log every this many epochs.
        target: the class the maps explain; default the labels when given, else each image's
            predicted class at the epoch.
        tolerance: pixels around the object the pointing game still counts as a hit.
        steps: steps of the deletion and insertion curves.
        batch_size: images (or altered copies) per compiled call.
        **options: options of the methods, as in `ExplainCallback`.
    """

    def __init__(self, images, masks_or_labels, *, methods=("gradcam",), log_dir, metrics=None,
                 every=1, target=None, tolerance=0, steps=16, batch_size=32, **options):
        super().__init__(log_dir, every)
        self.inputs, _ = _fixed_examples(images)
        self.masks, self.labels = _masks_or_labels(masks_or_labels, self.inputs)
        self.methods = _methods(methods, options, check_positive_int(batch_size, "batch_size"))
        self.metrics = _metrics(metrics, with_masks=self.masks is not None)
        self.target = target
        self.metric_options = {
            "tolerance": check_positive_int(tolerance, "tolerance", minimum=0),
            "steps": check_positive_int(steps, "steps"), "batch_size": batch_size,
            "progress": False}

    def check(self, model):
        _check_inputs(self.inputs, model)

    def log(self, model):
        target = _targets(self.target, self.labels)
        for method in self.methods:
            # Metrics read maps as importance: the magnitude of signed evidence.
            maps = np.abs(method.function(model, self.inputs, target, **method.options))
            available = {"model": model, "images": self.inputs, "maps": maps,
                         "masks": self.masks, "target": target,
                         "method": functools.partial(method.function, **method.options)}
            for spec in self.metrics:
                result = evaluate_on(spec.name, available, self.metric_options)
                tf.summary.scalar(f"faithfulness/{method.name}/{spec.name}", result.score,
                                  description=f"{spec.title}: {spec.summary} "
                                  f"({'higher' if spec.higher_is_better else 'lower'} is better).")


def _metrics(names, *, with_masks):
    """The `MetricSpec`s of `names` (default: as `FaithfulnessCallback` says), each checked to read
    only what the callback has."""
    if names is None:
        return (tuple(spec for spec in registry.METRICS if "masks" in spec.needs) if with_masks
                else (registry.find_metric("deletion"),))
    held = METRIC_INPUTS if with_masks else tuple(i for i in METRIC_INPUTS if i != "masks")
    return metrics_for((names,) if isinstance(names, str) else names, held, argument="metrics",
                       how_to_give={"masks": "pass masks as `masks_or_labels`"})


def _masks_or_labels(values, inputs):
    """`(masks, None)` for object masks of the images, `(None, class indices)` for labels."""
    array = np.asarray(keras.ops.convert_to_numpy(values) if keras.ops.is_tensor(values)
                       else values)
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 3:
        if array.shape != inputs.shape[:3]:
            raise ValueError(expected("masks_or_labels", f"masks {inputs.shape[:3]} (one per "
                                      "image, at the image size) or class labels", array))
        return array.astype(bool), None
    return None, _class_indices(array, len(inputs))


__all__ = ["ExplainCallback", "FaithfulnessCallback", "FeatureMapsCallback", "FiltersCallback",
           "MaximizeCallback", "RUN", "run_dir"]
