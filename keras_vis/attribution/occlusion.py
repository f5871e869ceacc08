"""Occlusion maps (Zeiler & Fergus): slide a patch over the image, score each occluded copy."""

import numpy as np

from keras_vis._checks import check_flag, check_number, check_positive_int, describe, expected
from keras_vis.attribution import _defaults
from keras_vis.attribution._copies import copy_scores
from keras_vis.attribution._fill import fill_images
from keras_vis.attribution._inputs import check_flag, head, prepare, resolve_classes
from keras_vis.blank import NO_REGION, PERTURBATION, check_maps, warn_blank
from keras_vis.attribution._maps import normalize as normalize_maps
from keras_vis.incremental import NotLocal, patch_scorer
from keras_vis.progress import Bar


def size_pair(value, name):
    """`(height, width)` from an integer or a pair of integers, each >= 1."""
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return tuple(check_positive_int(v, name) for v in value)
    if isinstance(value, (tuple, list)):
        raise ValueError(expected(name, "an integer or a pair of integers (height, width)", value))
    size = check_positive_int(value, name)
    return size, size


def default_patch(height, width):
    """The patch side occlusion takes by default: an eighth of the image's shorter side, at least
    4 pixels (28 for 224² images: 225 copies at half-patch strides), at most the image."""
    return min(max(4, min(height, width) // 8), height, width)


def default_stride(patch):
    """The stride occlusion takes by default for a patch side: half of it, at least 1."""
    return max(1, patch // 2)


def patch_positions(size, patch, stride):
    """Start offsets of the patch along one axis: every `stride` pixels, plus one flush with the end
    when the stride does not land there; with `stride <= patch` every pixel is covered."""
    starts = list(range(0, size - patch + 1, stride))
    if starts[-1] != size - patch:
        starts.append(size - patch)
    return np.asarray(starts)


def _coverage(size, starts, patch):
    """`(size, positions)` indicator: does the patch at each start cover each pixel."""
    pixels = np.arange(size)[:, None]
    return ((pixels >= starts[None, :]) & (pixels < starts[None, :] + patch)).astype(np.float64)


def occlusion(model, images, target=None, *, patch=_defaults.OCCLUSION_PATCH,
              stride=_defaults.OCCLUSION_STRIDE, fill=_defaults.OCCLUSION_FILL, logits=False,
              normalize=True, batch_size=_defaults.OCCLUSION_BATCH_SIZE, incremental="auto",
              approximate=None, progress=True):
    """Occlusion map: the target's score with a patch of the image hidden, for every patch position.

    A `patch` square is slid over the image every `stride` pixels (plus one position flush with the
    bottom and right edges, so every pixel is covered); each occluded copy is scored with forward
    passes of at most `batch_size` copies, built by broadcasting. Each pixel of the map is the mean
    score over the patch positions that cover it. Low values mark the regions the prediction needs.

    Incremental inference (`incremental`, the default where it pays): a patch changes only the
    units of each feature map that can see it, so for the convolutional part of a model (every
    convolution, pooling, padding, BatchNormalization, activation and Add/Concatenate from the
    input up to the first Flatten, global pooling or Dense layer) the unoccluded image's maps are
    computed once and each occluded copy recomputes each map on its changed region only; the
    rest of the network runs whole. The maps are those of the full computation, to float
    rounding. See `keras_vis.incremental`.

    The classic recipe (224×224 input, `patch=14, stride=14, fill=0.5`, the map divided by its
    maximum, then `occlusion_mask(heatmap, 0.85)` and `apply_mask`) is the default normalisation
    with those arguments.

    Args:
        model: a built single-input, channels-last `keras.Model`.
        images: numpy array or tensor `(N, H, W, C)` in the model's input units.
        target: as in `keras_vis.saliency`; the predicted class is that of the unoccluded image.
        patch: side of the occluding square, or `(height, width)`; at most the image size.
            `None`: an eighth of the image's shorter side (at least 4), as the report draws it.
        stride: step between patch positions, from 1 to `patch`, or `(height, width)`; `None`:
            half the patch.
        fill: the occluded pixels' value, in the model's input units: a number used as is (0.5 is
            mid-grey for a model taking [0, 1] pixels; a model taking 0–255 pixels needs 127.5,
            and a `keras.applications` model takes preprocessed values, where 0 is about the
            dataset mean), one number per channel, an array broadcastable to the images
            (`(H, W, C)` or `(N, H, W, C)`: the patch takes its pixels there), `"mean"` for each
            image's own channel means, or `"blur"` for a Gaussian-blurred copy of each image
            (sigma a sixteenth of the image side); `None` for 0.5.
        logits: score the pre-softmax logit (True) instead of the model's output probability.
        normalize: scale each map to [0, 1] (maps of non-negative scores such as probabilities
            are divided by their maximum); False returns the raw scores.
        batch_size: occluded copies per forward pass (and at most in memory at once).
        incremental: `"auto"` computes incrementally when the model allows it and it is
            estimated to be faster (the changed regions cover at most about half the work of a
            forward pass, and the job is large enough to repay compiling the incremental steps),
            else as `False`; `True` insists (and raises if the model or target does
            not allow it: a subclassed model, a target on an inner layer, no local layer after
            the input); `False` runs a whole forward pass per copy.
        approximate: `None` for exact maps, or Krypton's projective-field threshold τ in (0, 1]:
            each convolution's or pooling's changed region is cut, about its centre, to at most
            τ times the side of its feature map (never below the patch's own projection), and
            what lies beyond keeps its unoccluded value. Faster, at the cost of an error that
            grows as τ shrinks (on VGG16 at 224², τ = 0.5 is measured in
            `benchmarks/results/occlusion.md`). Needs the incremental path.
        progress: show a progress bar on stderr if the job runs more than a couple of seconds
            (see `keras_vis.progress`).

    Returns:
        float32 array `(N, H, W)`.

    Raises:
        ValueError: for a patch larger than the image, a stride below 1 or above the patch, a
            bad `fill`, `incremental` or `approximate`, or `incremental=True` on a model or
            target that cannot be computed incrementally.
    """
    images, target = prepare(model, images, target)
    count, height, width = images.shape[:3]
    patch_h, patch_w = size_pair(default_patch(height, width) if patch is None else patch,
                                 "patch")
    stride_h, stride_w = (size_pair(stride, "stride") if stride is not None
                          else (default_stride(patch_h), default_stride(patch_w)))
    if patch_h > height or patch_w > width:
        raise ValueError(
            expected("patch", f"at most the image size {height}×{width}", patch,
                     "Pass a smaller `patch`.")
        )
    if stride_h > patch_h or stride_w > patch_w:
        raise ValueError(
            expected("stride", f"at most `patch` ({patch_h}, {patch_w}), so that every pixel is "
                     "occluded at some position", stride, "Pass a smaller `stride`.")
        )
    fill_values = fill_images(fill, images, default=_defaults.OCCLUSION_FILL)
    normalize = check_flag(normalize, "normalize")
    batch_size = check_positive_int(batch_size, "batch_size")
    progress = check_flag(progress, "progress")
    rows = patch_positions(height, patch_h, stride_h)
    cols = patch_positions(width, patch_w, stride_w)
    patch_rows, patch_cols = np.arange(patch_h)[None, :, None], np.arange(patch_w)[None, None, :]

    def occluded_copies(image_index, position):
        # Writing only the patch pixels, by fancy indexing, is ~50x cheaper than a full-size
        # mask and np.where, which dominated the time of small models.
        copies = images[image_index]
        top = rows[position // len(cols), None, None] + patch_rows
        left = cols[position % len(cols), None, None] + patch_cols
        copies[np.arange(len(copies))[:, None, None], top, left] = \
            fill_values[image_index[:, None, None], top, left]
        return copies

    corners = np.stack(np.meshgrid(rows, cols, indexing="ij"), -1).reshape(-1, 2)
    scorer = _incremental_scorer(model, target, head(logits), images.shape,
                                 (patch_h, patch_w), corners, incremental, approximate)
    classes = resolve_classes(model, images, target, batch_size=batch_size)
    if scorer is None:
        scores = copy_scores(model, target, classes, count, len(corners), occluded_copies,
                             batch_size=batch_size, head=head(logits), label="occlusion",
                             progress=progress)
    else:
        def patch_pixels(image_index, position):
            top = corners[position, 0, None, None] + patch_rows
            left = corners[position, 1, None, None] + patch_cols
            return fill_values[image_index, top, left]

        data = classes if classes is not None else target.data(model, images)
        with Bar(count * len(corners), "occlusion", unit="copies", enabled=progress) as bar:
            scores = scorer.scores(images, patch_pixels, data, batch_size=batch_size, bar=bar)
    grid = scores.reshape(count, len(rows), len(cols)).astype(np.float64)
    cover_rows, cover_cols = _coverage(height, rows, patch_h), _coverage(width, cols, patch_w)
    # Two matrix products, not einsum: unoptimised einsum loops over every (y, x, i, j) and takes
    # about a second per 1024² image.
    sums = cover_rows @ grid @ cover_cols.T
    counts = np.outer(cover_rows.sum(axis=1), cover_cols.sum(axis=1))
    heatmap = (sums / counts).astype(np.float32)
    check_maps("occlusion", PERTURBATION, grid, target)
    return normalize_maps(heatmap) if normalize else heatmap



def occlusion_importance(model, images, target=None, *, patch=_defaults.OCCLUSION_PATCH,
                         stride=_defaults.OCCLUSION_STRIDE, fill=_defaults.OCCLUSION_FILL,
                         logits=False, normalize=True, batch_size=_defaults.OCCLUSION_BATCH_SIZE,
                         progress=True):
    """Occlusion read as importance, high where hiding a patch costs the target score the most.

    `keras_vis.occlusion` returns the classic heatmap (the score with each region hidden: LOW
    where the prediction needs the region). Metrics and summaries read every map as importance,
    so this returns the drop of that score below its best position, `max(s) - s`, scaled to [0, 1]
    (zero everywhere if no position changes the score).

    Args:
        model, images, target, patch, stride, fill, logits, batch_size, progress: as in
            `keras_vis.occlusion`.
        normalize: ignored: the drop is always scaled to [0, 1].

    Returns:
        float32 array `(N, H, W)` in [0, 1].
    """
    scores = occlusion(model, images, target, patch=patch, stride=stride, fill=fill,
                       logits=logits, normalize=False, batch_size=batch_size, progress=progress)
    drop = scores.max(axis=(1, 2), keepdims=True) - scores
    peak = drop.max(axis=(1, 2), keepdims=True)
    return (drop / np.where(peak > 0, peak, 1.0)).astype(np.float32)


def _incremental_scorer(model, target, head_policy, batch_shape, patch, corners, incremental,
                        approximate):
    """The incremental scorer `occlusion` uses, or `None` for the whole forward passes."""
    if not (isinstance(incremental, (bool, np.bool_))
            or isinstance(incremental, str) and incremental == "auto"):
        raise ValueError(expected("incremental", '"auto", True or False', incremental))
    incremental = incremental if isinstance(incremental, str) else bool(incremental)
    if approximate is not None:
        approximate = check_number(approximate, "approximate", low=0, high=1,
                                   low_inclusive=False)
        if incremental is False:
            raise ValueError(expected(
                "approximate", "None with incremental=False", approximate,
                'The approximation cuts the incremental regions: pass incremental="auto".'))
    if incremental is False:
        return None
    try:
        return patch_scorer(model, target, head=head_policy, image_shape=batch_shape[1:],
                            patch_size=patch, patch_starts=corners, approximate=approximate,
                            image_count=batch_shape[0], required=incremental is True)
    except NotLocal as reason:
        if incremental is True:
            raise ValueError(expected(
                "incremental", '"auto" or False for this model', True,
                f"It cannot be computed incrementally: {reason}.")) from None
        return None


def occlusion_mask(heatmap, threshold=_defaults.OCCLUSION_THRESHOLD):
    """The pixels whose occlusion lowers the score below `threshold` × the map's maximum.

    Args:
        heatmap: an occlusion map `(H, W)` or a batch `(N, H, W)`, raw or normalised (each map is
            scaled to [0, 1] first, dividing non-negative maps by their maximum).
        threshold: a number in [0, 1].

    Returns:
        bool array of `heatmap`'s shape, True where the region matters to the prediction.
    """
    values = np.asarray(heatmap, np.float32) if not isinstance(heatmap, str) else None
    if values is None or values.ndim not in (2, 3) or not np.all(np.isfinite(values)):
        raise ValueError(expected("heatmap", "a finite map (H, W) or a batch of maps (N, H, W)",
                                  heatmap))
    threshold = check_number(threshold, "threshold", low=0, high=1)
    scaled = normalize_maps(values[None] if values.ndim == 2 else values)
    masks = scaled < threshold
    warn_blank("occlusion_mask", np.flatnonzero(~masks.reshape(len(masks), -1).any(axis=1)),
               NO_REGION.format(threshold=threshold), count=len(masks))
    return masks.reshape(values.shape)


def apply_mask(image, mask, *, fill=0):
    """The image shown through a mask: pixels outside it set to `fill`.

    Args:
        image: `(H, W, C)` or a batch `(N, H, W, C)`, any dtype.
        mask: bool (or 0/1) `(H, W)`, or `(N, H, W)` for a batch.
        fill: the value hidden pixels take.

    Returns:
        array of `image`'s shape and dtype.
    """
    image = np.asarray(image)
    mask = np.asarray(mask)
    if image.ndim not in (3, 4) or mask.shape not in (image.shape[:-1], image.shape[-3:-1]):
        raise ValueError(
            f"Expected `mask` to have the image's spatial shape {image.shape[:-1]}. "
            f"Received: image={describe(image)}, mask={describe(mask)}"
        )
    return np.where(mask.astype(bool)[..., None], image, np.asarray(fill, image.dtype))
