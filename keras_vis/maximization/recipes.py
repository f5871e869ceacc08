"""The classic activation-maximization write-ups as one-call recipes on top of `maximize`.

- `filter_visualization`: the Keras example "Visualizing what convnets learn" — plain gradient
  ascent with L2-normalized gradients, step 10, 30 steps, a loss that ignores a 2-pixel border of
  the feature map, a start from grey plus small noise, and its deprocessing, laid out as a grid.
- `multiscale_visualization`: the fast.ai "FilterVisualizer" — start small (56 px), Adam with lr 0.1
  for 20 steps, enlarge ×1.2 (bicubic, optional blur) and repeat, 12 rounds in all.
- `class_visualization`: maximize a class logit (the output softmax swapped for linear), with the
  Fourier-decorrelated parameterisation and robustness transforms of "Feature Visualization".
"""

import numpy as np

from keras_vis._checks import check_model, check_number, check_positive_int, expected
from keras_vis.pixels import tile
from keras_vis.layers import layer_of, output_shape
from keras_vis import objectives
from keras_vis.maximization.params import Pixel
from keras_vis.maximization.render import check_value_range, maximize, resolve_size


def deprocess(images, *, std=0.15, crop=25):
    """The Keras example's display of a rendered filter: standardize, scale, crop and clip.

    Each image has its mean subtracted and is divided by its standard deviation (+1e-5), scaled to
    a standard deviation of `std` around mid-grey, cropped by `crop` pixels per side and clipped.

    Args:
        images: float `(K, H, W, C)` (numpy or tensor).
        std: the standard deviation of the result in [0, 1] units.
        crop: pixels removed from each side.

    Returns:
        uint8 numpy array `(K, H - 2 * crop, W - 2 * crop, C)`, values 0–255. A constant image (a
        dead filter) becomes uniform mid-grey.

    Raises:
        ValueError: for a batch that is not `(K, H, W, C)`, non-finite values, or a crop that leaves
            nothing.
    """
    images = np.asarray(images, np.float32)
    if images.ndim != 4:
        raise ValueError(expected("images", "a batch of shape (K, H, W, C)", images))
    if not np.all(np.isfinite(images)):
        raise ValueError(expected("images", "finite values", images))
    std = check_number(std, "std", low=0)
    crop = check_positive_int(crop, "crop", minimum=0)
    if 2 * crop >= min(images.shape[1:3]):
        raise ValueError(
            expected("crop", f"less than half the image size {images.shape[1:3]}", crop,
                     "Render larger images or crop less.")
        )
    axes = (1, 2, 3)
    centred = images - images.mean(axis=axes, keepdims=True)
    scaled = centred / (images.std(axis=axes, keepdims=True) + 1e-5) * std + 0.5
    if crop:
        scaled = scaled[:, crop:-crop, crop:-crop, :]
    return np.round(np.clip(scaled, 0.0, 1.0) * 255.0).astype(np.uint8)


def filter_visualization(model, layer, filters=None, *, size=180, steps=30, lr=10.0, border=2,
                         crop=25, cols=None, margin=5, value_range=(0, 255), preprocess=None,
                         seed=None, batch_size=None, callbacks=(), progress=True):
    """The Keras filter-visualization recipe: a grid of the patterns that excite `filters`.

    All filters are rendered in one batch: gradient ascent on each image with its gradient
    L2-normalized, the loss being the filter's mean activation without a `border` band, starting
    from mid-grey plus uniform noise of width 0.25, then `deprocess`.

    `lr` and the noise width are in model input units, as in the Keras example (whose ResNet50V2
    takes [-1, 1]: pass `value_range=(-1, 1)` to reproduce it exactly); they are rescaled to the
    [0, 1] image by `value_range`, so the recipe behaves alike for a model taking 0–255 images.

    Args:
        model: a built `keras.Model` with one image input.
        layer: the convolutional layer (name, nested path, index or object).
        filters: channel indices; default the first 64 (or all if fewer).
        size: rendered image size (any size, whatever the model's input size).
        steps: gradient ascent steps.
        lr: step length in model input units.
        border: feature-map pixels left out of the loss on each side.
        crop: image pixels cropped from each side by `deprocess`.
        cols: filters per grid row; default ceil(sqrt(number of filters)).
        margin: black pixels between grid tiles.
        value_range, preprocess: the model's input units, as in `maximize`.
        seed, batch_size, callbacks, progress: as in `maximize`.

    Returns:
        uint8 numpy array `(rows * (S + margin) - margin, cols * (S + margin) - margin, C)` with
        `S = size - 2 * crop`: the grid, filters in row-major order.
    """
    check_model(model)
    if filters is None:
        shape = output_shape(layer_of(model, layer))
        filters = range(min(64, shape[-1] if shape and shape[-1] else 64))
    margin = check_positive_int(margin, "margin", minimum=0)
    steps = check_positive_int(steps, "steps")
    crop = check_positive_int(crop, "crop", minimum=0)
    size = resolve_size(size, model)
    if 2 * crop >= min(size):
        raise ValueError(expected("crop", f"less than half the image size {size}", crop,
                                  "Render larger images or crop less."))
    lr = check_number(lr, "lr", low=0, low_inclusive=False)
    low, high = check_value_range(value_range)
    span = high - low
    images = maximize(
        model, objectives.channel(layer, filters if np.ndim(filters) else [filters]),
        size=size, steps=steps, optimizer="ascent", lr=lr / span, seed=seed, transforms=(),
        param=Pixel(mean=0.5, noise=0.25 / span, clip=False), border=border,
        value_range=value_range, preprocess=preprocess,
        deprocess=lambda x: deprocess(x, crop=crop), batch_size=batch_size, callbacks=callbacks,
        progress=progress,
    )
    return tile(images, cols=cols, pad=margin, fill=0)


def multiscale_visualization(model, objective, *, size=56, steps=20, lr=0.1, scales=12,
                             factor=1.2, blur=None, weight_decay=1e-6, value_range=(0, 255),
                             preprocess=None, seed=None, batch_size=None, callbacks=(),
                             progress=True):
    """The fast.ai multi-scale recipe: optimize small, enlarge, optimize again.

    Starts from uniform noise in [150, 180] / 255 at `size` pixels; each round runs `steps` Adam
    steps (with `weight_decay`), then enlarges the image by `factor` (bicubic) and optionally
    box-blurs it. The original optimized ImageNet-normalized pixels, where its lr 0.1 is about
    0.023 in the [0, 1] image units used here. It drew whole grey levels (uniform integers); here
    the noise is continuous.

    Args:
        model: a built `keras.Model` with one image input.
        objective: what to maximize, e.g. `objectives.channel("block3_conv1", range(16))`.
        size: starting size.
        steps: Adam steps per round.
        lr: Adam learning rate (in [0, 1] image units).
        scales: optimization rounds; the image is enlarged `scales - 1` times in between, so 12
            rounds from 56 px end at 408 px.
        factor: enlargement per round.
        blur: `None` or a box-blur size applied after each enlargement.
        weight_decay: L2 weight decay of Adam.
        value_range, preprocess, seed, batch_size, callbacks, progress: as in `maximize`.

    Returns:
        uint8 numpy array `(K, H, W, C)`, the images at the last scale, clipped to [0, 1].
    """
    scales = check_positive_int(scales, "scales")
    return maximize(
        model, objective, size=size, steps=steps, optimizer="adam", lr=lr, seed=seed,
        transforms=(), param=Pixel(mean=165 / 255, noise=30 / 255, clip=False),
        upscaling_steps=scales - 1,
        upscaling_factor=factor, blur=blur, weight_decay=weight_decay, value_range=value_range,
        preprocess=preprocess, batch_size=batch_size, callbacks=callbacks, progress=progress,
    )


def class_visualization(model, class_index, *, size=None, steps=256, lr=0.05, param="fourier",
                        decorrelate=None, transforms="standard", tv_weight=0.0, l2_weight=0.0,
                        value_range=(0, 255), preprocess=None, seed=None, batch_size=None,
                        callbacks=(), progress=True):
    """An image the model scores as `class_index`: maximize the class logit (pre-softmax).

    Args:
        model: a built `keras.Model` with one image input.
        class_index: a class, or a list of classes (one image each, in one batch).
        size: default the model's input size (a class score needs the whole model).
        steps, lr, param, transforms: as in `maximize` (Adam).
        decorrelate: decorrelated colours; default on for RGB models.
        tv_weight: weight of the total-variation penalty (smoothness).
        l2_weight: weight of the L2 penalty (moderate colours).
        value_range, preprocess, seed, batch_size, callbacks, progress: as in `maximize`.

    Returns:
        uint8 numpy array `(K, H, W, C)`.
    """
    check_model(model)
    if decorrelate is None:
        decorrelate = bool(model.inputs) and model.inputs[0].shape[-1] == 3
    tv_weight = check_number(tv_weight, "tv_weight", low=0)
    l2_weight = check_number(l2_weight, "l2_weight", low=0)
    objective = objectives.class_logit(class_index)
    if tv_weight:
        objective = objective - tv_weight * objectives.total_variation()
    if l2_weight:
        objective = objective - l2_weight * objectives.l2()
    return maximize(
        model, objective, size=size, steps=steps, optimizer="adam", lr=lr, seed=seed,
        transforms=transforms, param=param, decorrelate=decorrelate, value_range=value_range,
        preprocess=preprocess, batch_size=batch_size, callbacks=callbacks, progress=progress,
    )
