"""The class activation map template: every variant only says how channels are weighted.

`BaseCAM.__call__` runs the model once through the gradient engine, tapping the chosen layer for its
activations `A` (and, for gradient variants, the gradients `dS/dA` of the target score), asks the
variant's `channel_weights` hook for weights `w`, and returns `ReLU(sum_k w_k * A_k)` resized to the
input resolution and normalised. A new variant is a subclass overriding `channel_weights`.

Two options apply to every variant:

- `eigen_smooth=True` replaces the channel sum `sum_k w_k A_k` by the first principal component of
  the weighted activations `w * A` (`principal_map`), the projection Eigen-CAM makes of `A` itself.
- `aug_smooth=True` averages the maps of `AUGMENTATIONS`, transformed copies of each image, each
  map transformed back to the image's geometry first (`augment`, `restore`).
"""

import dataclasses
import numbers

import keras
import numpy as np

from keras_vis import engine
from keras_vis._checks import check_flag, check_layer_graph, check_positive_int, expected
from keras_vis import blank
from keras_vis.attribution import _defaults
from keras_vis.attribution._inputs import check_flag, prepare, resolve_classes, resolved_target
from keras_vis.attribution._maps import finish
from keras_vis.layers import default_cam_layer, output_shape, tapped_layer
from keras_vis.targets import Target, as_target

AUGMENTATIONS = tuple((flip, zoom) for zoom in (1.0, 1.1, 0.9) for flip in (False, True))
"""The `(flip, zoom)` transforms `aug_smooth` averages over, the identity first: each image as it
is and mirrored left-right, at zoom 1.0, 1.1 and 0.9 about its centre. The image keeps its size: at
zoom 1.1 its central 1/1.1 is enlarged to fill it (crop and resize), at zoom 0.9 it shrinks to 0.9
of its size inside a border of the image's mean colour (pad and resize); both bilinear."""


ALL_CHANNELS = "all"
"""The channel count of a variant that works on every channel of the layer."""


def check_channel_count(value, name, default, none_means):
    """How many of the layer's channels a variant works on (Score-CAM's `max_maps`, Ablation-CAM's
    `max_channels`): `default` for `None`, an integer >= 1, or `ALL_CHANNELS`.

    Args:
        value: the user's value.
        name: the argument's name in error messages.
        default: what `None` stands for.
        none_means: `None`'s meaning, in error messages ("every channel").

    Raises:
        TypeError: for a value that is neither `None`, an integer nor a string.
        ValueError: for an integer below 1 or a string other than `"all"`.
    """
    forms = f"None ({none_means}), an integer >= 1 or {ALL_CHANNELS!r}"
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, str)):
        raise TypeError(expected(name, forms, value))
    if value == ALL_CHANNELS:
        return ALL_CHANNELS
    if isinstance(value, str) or value < 1:
        raise ValueError(expected(name, forms, value))
    return int(value)


@dataclasses.dataclass(frozen=True)
class CamContext:
    """What a `channel_weights` hook may need beyond the activations and gradients.

    Attributes:
        model: the model.
        layer: the tapped layer.
        images: the float32 input batch `(N, H, W, C)` (with `aug_smooth`, the augmented copies).
        target: the `Target`.
        classes: what the target explains in each image, the predictions filled in
            (`keras_vis.attribution._inputs.resolve_classes`): int32 `(N,)` class codes for a
            class target, float32 `(N, h, w)` masks for a `Region`, `None` for other targets.
        head: the engine head policy, `"linear"` (logits) or `"model"` (the model's outputs).
        batch_size: images per compiled call.
        progress: whether a long hook (Score-CAM's masked copies) may show a progress bar.
        extra_activations: the activations of the variant's `extra_taps`, in their order, from
            the same forward pass.
    """

    model: keras.Model
    layer: keras.layers.Layer
    images: np.ndarray
    target: Target
    classes: np.ndarray
    head: str
    batch_size: int
    progress: bool = True
    extra_activations: tuple = ()


def principal_map(values):
    """The projection of each image's `(h*w, K)` values on their first right singular vector.

    The values are not centred, so for rank-1 values `u vᵀ` the map is `u |v|`. A singular vector's
    sign is arbitrary: it is chosen so that the map's inner product with the values' sum over
    channels (the map `sum_k` would give) is positive; where that product is zero, so that the
    map's value of largest magnitude is positive.

    Args:
        values: array `(N, h, w, K)`.

    Returns:
        float32 array `(N, h, w)`; all zeros for values that are all zero.
    """
    count, height, width, channels = values.shape
    matrix = np.asarray(values, np.float64).reshape(count, height * width, channels)
    _, _, right = np.linalg.svd(matrix, full_matrices=False)
    projection = np.einsum("npk,nk->np", matrix, right[:, 0])
    agreement = np.einsum("np,np->n", projection, matrix.sum(axis=-1))
    peak = np.take_along_axis(projection, np.abs(projection).argmax(axis=1)[:, None], 1)[:, 0]
    sign = np.where(agreement != 0, np.sign(agreement), np.where(peak < 0, -1.0, 1.0))
    return (projection * sign[:, None]).reshape(count, height, width).astype(np.float32)


def _sampling(size, zoom, flip):
    """One axis of a transform: the `(size, size)` bilinear sampling matrix of the axis zoomed by
    `zoom` about its centre (and mirrored if `flip`), and which output positions fall inside the
    input. Output pixel `i` reads the input at `(i - c) / zoom + c`, `c = (size - 1) / 2`."""
    centre = (size - 1) / 2
    source = (np.arange(size) - centre) / zoom + centre
    if flip:  # a centred zoom commutes with the mirror, which reverses the output
        source = source[::-1]
    inside = (source >= -0.5) & (source <= size - 0.5)
    source = np.clip(source, 0, size - 1)
    low = np.floor(source).astype(int)
    high = np.minimum(low + 1, size - 1)
    fraction = source - low
    matrix = np.zeros((size, size))
    rows = np.arange(size)
    np.add.at(matrix, (rows, low), 1 - fraction)
    np.add.at(matrix, (rows, high), fraction)
    matrix[~inside] = 0.0
    return matrix, inside


def _transform(flip, zoom, height, width):
    rows, rows_inside = _sampling(height, zoom, False)
    columns, columns_inside = _sampling(width, zoom, flip)
    return rows, columns, rows_inside[:, None] & columns_inside[None, :]


def augment(images, fill=None):
    """The `AUGMENTATIONS` of each image, image-major: float32 `(N * len(AUGMENTATIONS), H, W, C)`,
    row `n * len(AUGMENTATIONS) + a` the transform `a` of image `n` (the identity copy is the image
    itself). Pixels a zoom out brings in take `fill`, `None` for each image's mean colour."""
    count, height, width, channels = images.shape
    fill = images.mean(axis=(1, 2)) if fill is None else np.full((count, channels), fill)
    copies = np.empty((count, len(AUGMENTATIONS), height, width, channels), np.float32)
    for index, (flip, zoom) in enumerate(AUGMENTATIONS):
        rows, columns, inside = _transform(flip, zoom, height, width)
        moved = np.einsum("ih,nhwc,jw->nijc", rows, images, columns, optimize=True)
        copies[:, index] = moved + (~inside)[None, :, :, None] * fill[:, None, None, :]
    return copies.reshape((-1, height, width, channels))


def restore(maps, count):
    """The mean of each image's maps of its `augment` copies, each transformed back to the image's
    geometry: float32 `(count, H, W)`. A pixel is the mean over the copies that show it (zooming
    in leaves the border out of view)."""
    height, width = maps.shape[1:3]
    maps = np.asarray(maps, np.float64).reshape(count, len(AUGMENTATIONS), height, width)
    total = np.zeros((count, height, width))
    shown = np.zeros((height, width))
    for index, (flip, zoom) in enumerate(AUGMENTATIONS):
        rows, columns, inside = _transform(flip, 1.0 / zoom, height, width)
        total += np.einsum("ih,nhw,jw->nij", rows, maps[:, index], columns, optimize=True)
        shown += inside
    return (total / shown).astype(np.float32)


def _augmented_target(target, resolved):
    """The target of the `augment` copies: what `resolve_classes` resolved for each image itself
    (`resolved`), explained on each of its copies. A class code is repeated; a `Region`'s mask,
    at the output's resolution, is transformed with its copy (nothing lies outside the image)."""
    if resolved is None:
        return target
    if resolved.ndim == 3:
        resolved = augment(resolved[..., None], fill=0.0)[..., 0]
    else:
        resolved = np.repeat(resolved, len(AUGMENTATIONS))
    return as_target(resolved_target(target, resolved))


class BaseCAM:
    """A class activation map method; subclasses override `channel_weights`.

    Class attributes:
        needs_gradients: whether the hook uses the gradients (otherwise the engine runs forward
            only and the hook receives `None`).
        scores_probabilities: the default of `logits` is the opposite of this: Score-CAM scores
            masked copies with the model's probabilities, the gradient variants use logits.
        principal_component: the map is always the first principal component of the weighted
            activations (Eigen-CAM), `eigen_smooth` or not.
        supports_eigen_smooth: whether `eigen_smooth=True` is taken; False for a variant whose map
            is not made of one layer's weighted activations (it gets a clear error).
    """

    needs_gradients = True
    scores_probabilities = False
    principal_component = False
    supports_eigen_smooth = True

    def channel_weights(self, activations, gradients, context):
        """The weights of the layer's channels.

        Args:
            activations: float32 `(N, h, w, K)` activations of the layer.
            gradients: float32 `(N, h, w, K)` gradients of the target score with respect to them,
                or `None` if `needs_gradients` is False.
            context: a `CamContext`.

        Returns:
            An array broadcastable to `activations`: `(N, 1, 1, K)` for one weight per channel, or
            `(N, h, w, K)` for per-position weights.
        """
        raise NotImplementedError

    def extra_taps(self, model, layer, target, head):
        """More layers whose activations the hook needs from the forward pass that taps `layer`
        (`CamContext.extra_activations`); none by default."""
        return []

    def resolve_layer(self, model, layer):
        """The layer to explain: `layer`, or by default `keras_vis.last_conv_layer(model)`.

        Raises:
            ValueError: if the layer is an input layer or has no spatial output `(N, h, w, C)`.
        """
        check_layer_graph(model)
        layer = default_cam_layer(model) if layer is None else tapped_layer(model, layer)
        shape = output_shape(layer)
        if shape is None or len(shape) != 4:
            raise ValueError(
                "Expected `layer` to be a layer with a spatial output (N, h, w, C). Received: "
                f"layer='{layer.name}' ({type(layer).__name__}) with output shape {shape}. Use a "
                f"convolution layer, such as `keras_vis.last_conv_layer(model)` "
                f"('{default_cam_layer(model).name}' here)."
            )
        return layer

    def __call__(self, model, images, target=None, *, layer=None, logits=None, normalize=True,
                 batch_size=_defaults.BATCH_SIZE, progress=True, aug_smooth=False,
                 eigen_smooth=False):
        """Computes the class activation maps.

        Args:
            model: a built single-input, channels-last functional or sequential `keras.Model`.
            images: numpy array or tensor `(N, H, W, C)` in the model's input units.
            target: as in `keras_vis.saliency`.
            layer: the layer (name, index or object, nested models searched) whose feature maps
                are weighted; `None` for `keras_vis.last_conv_layer(model)`.
            logits: score the pre-softmax logit (True) or the model's output (False); `None` for
                the method's default.
            normalize: scale each map to [0, 1]; False returns the raw maps (still ReLU-ed and
                resized).
            batch_size: images per compiled call.
            progress: show a progress bar on stderr if the variant's work runs long (Score-CAM's
                masked copies; the gradient variants run one pass and show none).
            aug_smooth: average the raw maps of the `AUGMENTATIONS` of each image (mirrored and
                zoomed copies), each mapped back to the image's geometry, before normalising. The
                copies explain what was resolved for the image itself (its predicted class; a
                `Region`'s mask, transformed with each copy) and run as one batch, so the work is
                `len(AUGMENTATIONS)` (6) times a plain call's.
            eigen_smooth: take the first principal component of the weighted activations `w * A`
                (see `principal_map`) instead of their sum over channels.

        Returns:
            float32 array `(N, H, W)`.

        Raises:
            TypeError: for an `aug_smooth` or `eigen_smooth` that is not a bool.
            ValueError: for `eigen_smooth=True` on a variant that does not take it, or
                `aug_smooth=True` with a `Neuron` target at a spatial position (which the
                transforms move).
        """
        images, target = prepare(model, images, target)
        logits = (not self.scores_probabilities) if logits is None else check_flag(logits, "logits")
        normalize = check_flag(normalize, "normalize")
        aug_smooth = check_flag(aug_smooth, "aug_smooth")
        eigen_smooth = check_flag(eigen_smooth, "eigen_smooth")
        if eigen_smooth and not self.supports_eigen_smooth:
            raise ValueError(expected(
                "eigen_smooth", f"False for {type(self).__name__}", eigen_smooth,
                "Its map is not a weighted sum of one layer's feature maps, whose principal "
                "component `eigen_smooth` would take."))
        if aug_smooth and target.fixed_position is not None:
            raise ValueError(expected(
                "aug_smooth", "False for a `Neuron` target at a spatial position", aug_smooth,
                f"Mirroring and zooming the image move what position {target.fixed_position} sees; "
                "use a `Channel` or class target."))
        batch_size = check_positive_int(batch_size, "batch_size")
        progress = check_flag(progress, "progress")
        layer = self.resolve_layer(model, layer)
        head = "linear" if logits else "model"
        if not aug_smooth:
            return self.compute(model, images, target, layer, head, normalize, batch_size,
                                progress=progress, eigen_smooth=eigen_smooth)
        # The copies explain what was predicted for the image itself, not for each copy.
        resolved = resolve_classes(model, images, target, batch_size=batch_size)
        maps = self.compute(model, augment(images), _augmented_target(target, resolved), layer,
                            head, False, batch_size, progress=progress, eigen_smooth=eigen_smooth,
                            check_blank=False)
        return finish(restore(maps, len(images)), images.shape[1:3], normalize,
                      blank=self.blank_reason(layer, eigen_smooth), target=target)

    @property
    def warning_name(self):
        """How warnings name this method: `"cam (GradCAM)"`."""
        return f"cam ({type(self).__name__})"

    def blank_reason(self, layer, eigen_smooth=False, map_size=None):
        """`(method, reason)`: how the warning for a blank map of this method reads, for its
        layer (whose feature maps are `map_size`, default its symbolic output's)."""
        method = self.warning_name
        if map_size is None and layer is not None:
            shape = output_shape(layer)
            map_size = tuple(shape[1:3]) if shape is not None and len(shape) == 4 else None
        if map_size is not None and tuple(map_size) == (1, 1):
            return method, blank.SMALL_LAYER.format(layer=layer.name, height=1, width=1)
        return method, blank.EIGEN if eigen_smooth or self.principal_component else blank.CAM

    def compute(self, model, images, target, layer, head, normalize, batch_size, progress=True, *,
                eigen_smooth=False, check_blank=True):
        """The maps for arguments `__call__` has checked.

        Args:
            model: the model.
            images: a float32 batch `(N, H, W, C)` (with `aug_smooth`, the augmented copies).
            target: a `Target` (with `aug_smooth`, the class of each copy resolved).
            layer: what `resolve_layer` returned.
            head: the engine's head policy, `"linear"` or `"model"`.
            normalize: scale each map to [0, 1] (False with `aug_smooth`, which normalises the
                mean).
            batch_size: images per compiled call.
            progress: whether a long job may show a progress bar.
            eigen_smooth: take the principal component instead of the channel sum; only True if
                `supports_eigen_smooth`.
            check_blank: warn for maps with no variation (`BlankMapWarning`).

        Returns:
            float32 array `(N, H, W)`, non-negative, at the input resolution.
        """
        data = target.data(model, images)
        extra = self.extra_taps(model, layer, target, head)
        result = engine.run(model, images, target, taps=[layer, *extra], head=head, classes=data,
                            input_grads=False, tap_grads=self.needs_gradients,
                            batch_size=batch_size)
        activations = result.activations[0]
        gradients = result.tap_grads[0] if self.needs_gradients else None
        classes = resolve_classes(model, images, target, batch_size=batch_size,
                                  outputs=result.outputs, classes=data, head=head)
        context = CamContext(model, layer, images, target, classes, head, batch_size, progress,
                             tuple(result.activations[1:]))
        weighted = self.channel_weights(activations, gradients, context) * activations
        if eigen_smooth or self.principal_component:
            maps = principal_map(weighted)
        else:
            maps = np.sum(weighted, axis=-1)
        reason = self.blank_reason(layer, eigen_smooth, activations.shape[1:3])
        return finish(np.maximum(maps, 0.0), images.shape[1:3], normalize,
                      blank=reason if check_blank else None, target=target)
