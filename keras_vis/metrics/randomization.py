"""Model-parameter randomization test (Adebayo et al., "Sanity Checks for Saliency Maps", 2018).

A map that explains the model must change when the model's weights are destroyed. On a copy of the
model, the layers' weights are re-initialised one after the other from the top (output) layer down,
cumulatively ("cascading randomization"), and after each step the maps are compared with the
original ones: Spearman rank correlation of the absolute values and SSIM, per image. A method whose
maps stay close to the original after every layer is randomized fails the check: it shows the
image, not what the model learned.
"""

import dataclasses
import zlib

import keras
import numpy as np
import scipy.stats
import skimage.metrics

from keras_vis._checks import check_flag, check_number, check_positive_int, expected
from keras_vis.attribution._inputs import prepare, resolve_classes, resolved_target
from keras_vis.layers import is_model, iter_layers, layer_of
from keras_vis.metrics._arrays import to_maps
from keras_vis.metrics._methods import method_name, resolve_method
from keras_vis.metrics.result import MetricResult
from keras_vis.progress import Bar

DEFAULT_THRESHOLD = 0.5

# Variables whose initializer attribute is not simply `<variable name>_initializer`.
_INITIALIZER_ATTRIBUTES = {
    "kernel": ("kernel_initializer", "depthwise_initializer"),
    "depthwise_kernel": ("depthwise_initializer",),
    "pointwise_kernel": ("pointwise_initializer",),
}


@dataclasses.dataclass(frozen=True)
class RandomizationResult(MetricResult):
    """The maps' similarity to the original after each cascading randomization step.

    Row 0 compares the original maps with those of the unrandomized copy (1.0 when the copy is
    exact); row `i` compares them after the top `i` layers of `layers` were re-initialised.

    Attributes:
        method: the method's name.
        layers: names of the randomized layers, top-down.
        spearman: float32 `(len(layers) + 1, N)`, rank correlation of the absolute maps per image.
        ssim: float32 `(len(layers) + 1, N)`, SSIM of the maps scaled to [0, 1] per image.
        maps: float32 `(len(layers) + 1, N, H, W)`: the original maps, then those after each step.
        threshold: mean rank correlation at or above which the maps "stay" the same.
        mean_spearman, mean_ssim: float32 `(len(layers) + 1,)`, means over the images.
        verdicts: `"stays"` or `"changes"` per row.
        passed: True when the maps changed once every listed layer was randomized.
        values: the rank correlation per image once every listed layer was randomized
            (`spearman[-1]`); `score`, their mean, is lower where the maps depend more on the
            weights (`higher_is_better` is False).
        curve: `(randomization steps 0, 1, ..., len(layers), spearman.T)`.
    """

    method: str
    layers: tuple
    spearman: np.ndarray
    ssim: np.ndarray
    maps: np.ndarray
    threshold: float

    higher_is_better = False

    @property
    def values(self):
        return self.spearman[-1]

    @property
    def curve(self):
        return np.arange(len(self.spearman), dtype=np.float32), self.spearman.T

    @property
    def mean_spearman(self):
        return self.spearman.mean(axis=1)

    @property
    def mean_ssim(self):
        return self.ssim.mean(axis=1)

    @property
    def verdicts(self):
        return tuple("stays" if value >= self.threshold else "changes"
                     for value in self.mean_spearman)

    @property
    def passed(self):
        return self.verdicts[-1] == "changes"

    def rows(self):
        """`(randomized down to, mean Spearman, mean SSIM, verdict)` for each row."""
        names = ("(none)",) + self.layers
        return [(name, float(r), float(s), v)
                for name, r, s, v in zip(names, self.mean_spearman, self.mean_ssim, self.verdicts)]

    def __str__(self):
        width = max(len(name) for name, *_ in self.rows())
        lines = [f"randomization check of {self.method}: "
                 f"{'passed (maps change)' if self.passed else 'FAILED (maps stay)'}",
                 f"{'randomized down to':<{width}}  spearman    ssim  verdict"]
        lines += [f"{name:<{width}}  {r:8.3f}  {s:6.3f}  {v}" for name, r, s, v in self.rows()]
        return "\n".join(lines)


def _weighted_layers(model):
    """Layers that own weights (nested models are descended into), top-down."""
    return [layer for layer in iter_layers(model) if not is_model(layer) and layer.weights][::-1]


def _chosen_layers(model, layers):
    candidates = _weighted_layers(model)
    if layers is None:
        return candidates
    if isinstance(layers, int) and not isinstance(layers, bool):
        count = check_positive_int(layers, "layers", minimum=0)
        if count > len(candidates):
            raise ValueError(expected("layers", f"at most {len(candidates)}, the number of layers "
                                      "with weights", layers))
        return candidates[:count]
    if isinstance(layers, str) or not isinstance(layers, (list, tuple)):
        raise TypeError(expected("layers", "None, an int or a list of layer names", layers))
    chosen = set()
    for name in layers:
        layer = layer_of(model, name)
        if layer not in candidates:
            raise ValueError(
                expected("layers", "layers that have weights (not nested models)", layers,
                         f"Layer '{layer.name}' has none or is a model; choose among: "
                         f"{', '.join(repr(c.name) for c in candidates)}.")
            )
        chosen.add(id(layer))
    # Top-down, whatever the order given.
    return [layer for layer in candidates if id(layer) in chosen]


def _copy(model):
    """A copy of `model` with its own variables holding the same values."""
    try:
        copy = keras.models.clone_model(model)
    except Exception as error:
        raise ValueError(
            expected("model", "a functional or sequential model that `keras.models.clone_model` "
                     "can copy", model, f"Cloning failed ({error}); the check never randomizes the "
                     "model itself, only a copy.")
        ) from error
    copy.set_weights(model.get_weights())
    if {id(v) for v in copy.weights} & {id(v) for v in model.weights}:
        raise ValueError(expected("model", "a model whose copy has its own weights", model,
                                  "Its clone shares variables with it."))
    return copy


def _initializer(layer, variable, seed):
    names = _INITIALIZER_ATTRIBUTES.get(variable.name, ()) + (f"{variable.name}_initializer",)
    for name in names:
        if getattr(layer, name, None) is not None:
            initializer = keras.initializers.get(getattr(layer, name))
            config = initializer.get_config()
            if "seed" in config:
                key = f"{layer.name}/{variable.name}".encode()
                state = np.random.SeedSequence([seed, zlib.crc32(key)]).generate_state(1)[0]
                config["seed"] = int(state >> 1)
                initializer = type(initializer).from_config(config)
            return initializer
    raise ValueError(
        f"Expected layer '{layer.name}' to name the initializer of its weight '{variable.name}' "
        f"(an attribute such as `{names[-1]}`). Received: a {type(layer).__name__} without one, "
        "so its weights cannot be re-initialised; leave it out with `layers=`."
    )


def reinitialize(layer, seed):
    """Re-draws every weight of `layer` from the layer's own initializers, seeded by `seed`."""
    for variable in layer.weights:
        initializer = _initializer(layer, variable, seed)
        variable.assign(initializer(tuple(variable.shape), dtype=variable.dtype))


def spearman(first, second):
    """Per-row Spearman rank correlation of two `(N, P)` arrays (average ranks for ties).

    Identical rows correlate at 1; a constant row against a different one at 0 (no rank order).
    """
    ranks = [scipy.stats.rankdata(values, axis=1) for values in (first, second)]
    ranks = [r - r.mean(axis=1, keepdims=True) for r in ranks]
    numerator = (ranks[0] * ranks[1]).sum(axis=1)
    denominator = np.sqrt((ranks[0] ** 2).sum(axis=1) * (ranks[1] ** 2).sum(axis=1))
    defined = denominator > 0
    correlation = np.where(defined, numerator / np.where(defined, denominator, 1.0), 0.0)
    return np.where(np.all(first == second, axis=1), 1.0, correlation)


def _unit_scale(maps):
    peak = maps.max(axis=(1, 2), keepdims=True)
    return maps / np.where(peak > 0, peak, 1.0)


def ssim(first, second):
    """Per-image SSIM of two batches of non-negative maps `(N, H, W)`, each divided by its max."""
    first, second = _unit_scale(first), _unit_scale(second)
    side = min(first.shape[1:])
    window = min(7, side if side % 2 else side - 1)
    return np.array([
        skimage.metrics.structural_similarity(a, b, data_range=1.0, win_size=window)
        for a, b in zip(first.astype(np.float64), second.astype(np.float64))
    ])


def randomization_check(model, method, images, target=None, *, layers=None, seed=0,
                        threshold=DEFAULT_THRESHOLD, batch_size=32, progress=True, **options):
    """Cascading model-parameter randomization: do the maps depend on the learned weights?

    The model is cloned (`keras.models.clone_model` + its weights); the user's model is only read.
    From the top layer down, each chosen layer of the copy is re-initialised with its own
    initializers (seeded), cumulatively, and the maps of `method` are recomputed and compared with
    the original maps. The scored class stays the one predicted for the original model
    (`target=None`), as in Adebayo et al.

    Args:
        model: a built single-input, channels-last functional or sequential `keras.Model`
            (nested models are fine). Needs memory for one copy of its weights.
        method: an attribution method name (`"saliency"`, `"guided"`, `"deconvnet"`,
            `"smoothgrad"`, `"gradient_input"`, `"integrated_gradients"`, `"gradcam"`,
            `"gradcam++"`, `"layercam"`, `"hirescam"`, `"scorecam"`, `"cam"`, `"guided_gradcam"`,
            `"occlusion"`, read as importance: the score's drop when a patch hides the pixel) or
            a callable `(model, images, target) -> maps (N, H, W)` whose larger values mean more
            important, e.g. `functools.partial(keras_vis.saliency, method="guided")`.
        images: numpy array or tensor `(N, H, W, C)` in the model's input units. Images must be at
            least 3×3 (for SSIM).
        target: as in the attribution functions; `None` scores the class predicted by the original
            model in every step.
        layers: which layers to randomize: `None` for every layer with weights (nested models'
            layers included), an int `K` for the top `K` of them, or a list of layer names (always
            randomized top-down, whatever the order given).
        seed: seed of the re-initialisation (the same seed gives the same new weights).
        threshold: a step "stays" when the mean rank correlation is at least this, else "changes".
        batch_size: images per compiled call, passed to named methods.
        progress: show one progress bar on stderr, over the maps computed (the original model's,
            the copy's, then one per randomized layer), if the check runs more than a couple of
            seconds; the method's own bars stay quiet.
        **options: keyword options for the method (e.g. `layer="conv2"` for a CAM).

    Returns:
        A `RandomizationResult` (`print` it for a table; `.rows()`, `.mean_spearman`,
        `.mean_ssim`, `.verdicts`, `.passed`, per-image `.spearman`/`.ssim` and all `.maps`).

    Raises:
        ValueError, TypeError: for a model that cannot be cloned, an unknown method or layer,
            layers without weights, maps that are not `(N, H, W)` at the image size, or a layer
            whose weights have no initializer.
    """
    images, target = prepare(model, images, target)
    batch_size = check_positive_int(batch_size, "batch_size")
    threshold = check_number(threshold, "threshold", low=-1, high=1)
    seed = check_positive_int(seed, "seed", minimum=0)
    progress = check_flag(progress, "progress")
    explain = resolve_method(method, options, batch_size)
    chosen = _chosen_layers(model, layers)
    classes = resolve_classes(model, images, target, batch_size=batch_size)
    if classes is not None:
        target = resolved_target(target, classes)  # every step explains the original class

    def maps_of(network, bar):
        maps = to_maps(explain(network, images, target), images.shape[:3], name="method's maps")
        bar.advance()
        return maps

    copy = _copy(model)
    copied_layers = {id(layer): twin for layer, twin in zip(iter_layers(model), iter_layers(copy))
                     if layer.name == twin.name}
    with Bar(len(chosen) + 2, "randomization check", enabled=progress) as bar:
        original = maps_of(model, bar)
        stages = [maps_of(copy, bar)]
        for layer in chosen:
            if id(layer) not in copied_layers:
                raise ValueError(expected("model", "a model whose clone has the same layers",
                                          model, f"Layer '{layer.name}' has no counterpart in "
                                          "the clone."))
            reinitialize(copied_layers[id(layer)], seed)
            stages.append(maps_of(copy, bar))
    stages = np.stack(stages)
    flat_original = np.abs(original).reshape(len(images), -1)
    rank_correlation = np.stack([spearman(flat_original, np.abs(s).reshape(len(images), -1))
                                 for s in stages])
    structural = np.stack([ssim(np.abs(original), np.abs(s)) for s in stages])
    stages[0] = original
    return RandomizationResult(
        method=method_name(method),
        layers=tuple(layer.name for layer in chosen),
        spearman=rank_correlation.astype(np.float32),
        ssim=structural.astype(np.float32),
        maps=stages.astype(np.float32),
        threshold=threshold,
    )


__all__ = ["RandomizationResult", "randomization_check", "reinitialize"]
