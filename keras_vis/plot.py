"""Overlays and figures: heatmaps over images, image grids, convolution filters, feature maps and
activation atlases.

Figures are `matplotlib.figure.Figure` objects built without `pyplot`: nothing global is touched,
no window opens, and they work under any backend (Agg included). Jupyter displays a returned figure
inline; elsewhere write it with `save(fig, "out.png")`.
"""

import math
import os
import pathlib

import cv2
import matplotlib
import numpy as np
from matplotlib.figure import Figure

from keras_vis._checks import check_model, check_number, check_positive_int, check_real, expected
from keras_vis.inspect import features, weights
from keras_vis.io import atomic_write, image_layout
from keras_vis.layers import convolutions, layer_of
from keras_vis.pixels import to_uint8


def overlay(image, heatmap, *, cmap="jet", alpha=0.4, normalize=True):
    """Blends a colour-mapped heatmap over an image.

    Args:
        image: `(H, W, 3)` RGB, `(H, W, 4)` RGBA (alpha ignored), or grey `(H, W)` / `(H, W, 1)`;
            a batch of one is accepted. The dtype tells the range: integer images are 0–255, float
            images 0–1 (see `keras_vis.pixels.to_uint8`).
        heatmap: `(h, w)` (or `(h, w, 1)`, or a batch of one) of any size; it is resized to the
            image bilinearly.
        cmap: a matplotlib colormap name or object.
        alpha: weight of the heatmap colours, in [0, 1] (0 shows the image only).
        normalize: rescale the heatmap to [0, 1] by its minimum and maximum (a constant heatmap maps
            to 0); with `False` it must already lie in [0, 1] and is clipped.

    Returns:
        A uint8 RGB numpy array `(H, W, 3)`: `(1 - alpha) * image + alpha * cmap(heatmap)`.

    Raises:
        ValueError: for a malformed image or heatmap, non-finite heatmap values, an unknown
            colormap or `alpha` outside [0, 1].
        TypeError: for a non-numeric or complex image or heatmap.
    """
    alpha = check_number(alpha, "alpha", low=0, high=1)
    colormap = _colormap(cmap)
    rgb = _rgb_image(image)
    values = _heatmap_2d(heatmap, normalize)
    values = cv2.resize(values, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
    colours = colormap(np.clip(values, 0.0, 1.0))[..., :3] * 255.0
    blended = (1.0 - alpha) * rgb.astype(np.float32) + alpha * colours
    return np.clip(np.round(blended), 0, 255).astype(np.uint8)


def grid(images, *, cols=None, titles=None, cmap="viridis", normalize=False, tile_size=2.0,
         suptitle=None):
    """Draws images as a grid of tiles.

    Args:
        images: a sequence of images, or an array `(N, H, W)` / `(N, H, W, C)`. Single-channel
            tiles are drawn with `cmap`, scaled to each tile's own range; RGB(A) tiles are drawn as
            colour (integer 0–255 or float 0–1, unless `normalize`).
        cols: tiles per row; default `ceil(sqrt(N))`.
        titles: one title per image, or `None`.
        cmap: colormap for single-channel tiles.
        normalize: rescale each RGB tile to [0, 1] by its own minimum and maximum (for arrays
            such as filter weights that are not images).
        tile_size: width of one tile in inches.
        suptitle: a title over the whole figure.

    Returns:
        A `matplotlib.figure.Figure`.

    Raises:
        ValueError: for an empty list, titles of the wrong length or malformed tiles.
        TypeError: for complex tiles.
    """
    tiles = _tiles(images)
    cols = _columns(cols, len(tiles))
    if titles is not None and len(titles) != len(tiles):
        raise ValueError(expected("titles", f"None or {len(tiles)} titles, one per image", titles))
    tile_size = check_number(tile_size, "tile_size", low=0, low_inclusive=False)
    rows = math.ceil(len(tiles) / cols)
    aspect = tiles[0].shape[0] / tiles[0].shape[1]
    title_room = 0.25 if titles is not None else 0.0
    figure = Figure(
        figsize=(cols * tile_size, rows * (tile_size * aspect + title_room) + (0.4 if suptitle else 0))
    )
    _draw_tiles(figure, tiles, cols, titles, cmap=cmap, normalize=normalize)
    if suptitle:
        figure.suptitle(suptitle)
    return figure


def filters(model, layer, *, max_filters=64, max_channels=9, rgb=None, cols=None, tile_size=1.0):
    """Draws the kernels of a 2D convolution layer.

    The first convolution of an RGB model is drawn the classic way: each filter as one colour tile
    (its `(kh, kw, 3)` kernel rescaled to [0, 1] on its own). Other layers are drawn as grey
    grids: one tile per filter, holding its first `max_channels` input channels side by side
    (left to right, top to bottom), rescaled together per filter, so channels of a filter compare.

    Args:
        model: a built `keras.Model`.
        layer: a 2D convolution layer name or path, index or object (see
            `keras_vis.inspect.filter_weights`).
        max_filters: draw at most this many filters (the first ones).
        max_channels: for grey grids, at most this many input channels per filter.
        rgb: force colour tiles (`True`; the layer must have 3 input channels) or grey grids
            (`False`); `None` picks colour for the model's first convolution with 3 input channels.
        cols: tiles per row; default `ceil(sqrt(number of filters drawn))`.
        tile_size: width of one tile in inches.

    Returns:
        A `matplotlib.figure.Figure`.
    """
    tiles, title = filter_tiles(model, layer, max_filters=max_filters, max_channels=max_channels,
                                rgb=rgb)
    return grid(tiles, cols=cols, titles=[str(i) for i in range(len(tiles))], cmap="gray",
                tile_size=tile_size, suptitle=title)


def filter_tiles(model, layer, *, max_filters=64, max_channels=9, rgb=None):
    """The tiles `filters` draws for a 2D convolution layer, and their title.

    Args:
        model, layer, max_filters, max_channels, rgb: as in `filters`.

    Returns:
        `(tiles, title)`: one float32 tile per filter drawn, values in [0, 1] — `(kh, kw, 3)`
        colour kernels, or grey `(rows, cols)` grids of channels with NaN in the 1-pixel gaps
        between them — and a title naming the layer and what the tiles show.

    Raises:
        ValueError: for a layer that is not a 2D convolution, or `rgb=True` on a layer without 3
            input channels.
    """
    check_model(model)
    found = layer_of(model, layer)
    kernel = weights.filter_weights(model, found)
    max_filters = check_positive_int(max_filters, "max_filters")
    max_channels = check_positive_int(max_channels, "max_channels")
    kh, kw, in_channels, out_channels = kernel.shape
    if rgb is None:
        first = convolutions(model)[0]
        rgb = in_channels == 3 and first is found
    elif rgb and in_channels != 3:
        raise ValueError(
            expected("rgb", "False or None for a layer without 3 input channels", rgb,
                     f"Layer '{found.name}' has {in_channels} input channels.")
        )
    count = min(out_channels, max_filters)
    if rgb:
        tiles = [_rescale(kernel[..., i]) for i in range(count)]
        what = f"{kh}×{kw} RGB kernels"
    else:
        channels = min(in_channels, max_channels)
        tiles = [_mosaic(_rescale(kernel[:, :, :channels, i])) for i in range(count)]
        inputs = f"first {channels} of {in_channels}" if channels < in_channels else f"all {in_channels}"
        what = f"{kh}×{kw} kernels, {inputs} input channels per tile"
    shown = f"first {count} of {out_channels}" if count < out_channels else f"{out_channels}"
    return tiles, f"{found.name}: {shown} filters, {what}"


def feature_maps(model, image, layers, *, max_channels=16, cols=None, cmap="viridis",
                 tile_size=1.2):
    """Draws the feature maps of one or more layers for one image: a block of tiles per layer.

    With `max_channels=5` and four VGG16 layers (`block1_conv1`, `block2_conv1`, `block3_conv1`,
    `block4_conv2`) this is the classic 4×5 grid of layer-wise outputs.

    Args:
        model: a built single-input `keras.Model`.
        image: one model input `(H, W, C)` (or a batch of one), already preprocessed.
        layers: a layer name or path, index or object, or a list of them; each must have a
            spatial output `(N, h, w, c)`.
        max_channels: draw the first this many channels of each layer.
        cols: tiles per row in each block; default `min(channels drawn, 8)`.
        cmap: colormap; each channel is scaled to its own range.
        tile_size: width of one tile in inches.

    Returns:
        A `matplotlib.figure.Figure` with one sub-figure per layer, titled with its name and shape.
    """
    check_model(model)
    max_channels = check_positive_int(max_channels, "max_channels")
    batch = np.asarray(image) if not hasattr(image, "numpy") else image.numpy()
    if batch.ndim == len(model.inputs[0].shape) - 1:
        batch = batch[None]
    if batch.shape[0] != 1:
        raise ValueError(expected("image", "one image (H, W, C) or a batch of one", batch,
                                  "Call it once per image."))
    maps = features.feature_maps(model, batch, layers)
    for name, values in maps.items():
        if values.ndim != 4:
            raise ValueError(
                expected("layers", "layers with spatial output (N, h, w, c)", name,
                         f"Its output has shape {values.shape}.")
            )
    blocks = []
    for name, values in maps.items():
        count = min(values.shape[-1], max_channels)
        block_cols = _columns(cols, count) if cols is not None else min(count, 8)
        blocks.append((name, values[0], count, block_cols, math.ceil(count / block_cols)))
    tile_size = check_number(tile_size, "tile_size", low=0, low_inclusive=False)
    widest = max(block_cols for _, _, _, block_cols, _ in blocks)
    heights = [rows * tile_size + 0.5 for *_, rows in blocks]
    figure = Figure(figsize=(widest * tile_size, sum(heights)))
    subfigures = np.atleast_1d(figure.subfigures(len(blocks), 1, height_ratios=heights))
    for subfigure, (name, values, count, block_cols, _) in zip(subfigures, blocks):
        channels = [values[..., i] for i in range(count)]
        _draw_tiles(subfigure, channels, block_cols, None, cmap=cmap, normalize=False,
                    total_cols=widest)
        h, w, c = values.shape
        shown = f", channels 0–{count - 1}" if count < c else ""
        subfigure.suptitle(f"{name}  ({h}×{w}×{c}{shown})", fontsize="medium")
    return figure


_ATLAS_FIELDS = ("image", "cells", "classes", "class_shares", "class_names", "size", "layer",
                 "layout", "method")


def atlas(atlas, *, labels=True, class_names=None, size=10.0, title=None):
    """Draws an activation atlas, each cell framed in the colour of its most frequent class.

    Args:
        atlas: a `keras_vis.Atlas`.
        labels: frame the cells by class and add a legend of the class names; a frame's opacity
            is the share of the cell's vectors of that class.
        class_names: names for the legend; default the atlas's own (`Atlas.class_names`), else the
            class numbers.
        size: width of the figure in inches.
        title: a title; default names the layer, the cells and the samples.

    Returns:
        A `matplotlib.figure.Figure`.
    """
    from matplotlib.patches import Patch, Rectangle

    if not all(hasattr(atlas, field) for field in _ATLAS_FIELDS):
        raise TypeError(expected("atlas", "a keras_vis.Atlas (from `activation_atlas` or "
                                 "`Atlas.load`)", atlas))
    size = check_number(size, "size", low=0, low_inclusive=False)
    names = atlas.class_names if class_names is None else tuple(class_names)
    figure = Figure(figsize=(size, size * (1.08 if labels else 1.0)))
    axes = figure.add_axes([0.0, 0.08 if labels else 0.0, 1.0, 0.88 if labels else 0.94])
    axes.imshow(atlas.image, interpolation="lanczos" if atlas.size < 64 else "nearest")
    axes.set_axis_off()
    axes.set_title(title or f"{atlas.layer}: {len(atlas.cells)} cells of {len(atlas.layout)} "
                            f"activation vectors ({atlas.method})")
    if labels:
        colours = matplotlib.colormaps["tab10"]

        def name(index):
            return str(names[index]) if names is not None and 0 <= index < len(names) else str(index)

        for (row, column), klass, share in zip(atlas.cells, atlas.classes, atlas.class_shares):
            axes.add_patch(Rectangle((column * atlas.size - 0.5, row * atlas.size - 0.5),
                                     atlas.size, atlas.size, fill=False, linewidth=1.5,
                                     edgecolor=colours(klass % 10), alpha=float(share)))
        shown = sorted(set(int(k) for k in atlas.classes))
        figure.legend(handles=[Patch(facecolor="none", edgecolor=colours(k % 10), label=name(k))
                               for k in shown],
                      loc="lower center", ncol=min(len(shown), 6), frameon=False)
    return figure


def save(figure, path, *, dpi=None, **savefig_kwargs):
    """Writes a figure to an image or vector file atomically; the format follows the extension.

    Args:
        figure: a `matplotlib.figure.Figure`.
        path: the file (parent folders are created); `.png`, `.jpg`, `.svg`, `.pdf`, ...
        dpi: resolution; default matplotlib's.
        **savefig_kwargs: passed to `Figure.savefig` (e.g. `bbox_inches="tight"`).

    Returns:
        The `pathlib.Path` written.

    Raises:
        ValueError: for an extension matplotlib cannot write; nothing is written then.
    """
    if not isinstance(figure, Figure):
        raise TypeError(expected("figure", "a matplotlib Figure", figure))
    path = pathlib.Path(os.fspath(path))
    fmt = path.suffix.lower().lstrip(".")
    supported = figure.canvas.get_supported_filetypes()
    if fmt not in supported:
        raise ValueError(
            expected("path", f"a file name ending in one of {', '.join('.' + f for f in sorted(supported))}",
                     str(path))
        )
    with atomic_write(path, "wb") as file:
        figure.savefig(file, format=fmt, dpi=dpi, **savefig_kwargs)
    return path


def _colormap(cmap):
    if isinstance(cmap, matplotlib.colors.Colormap):
        return cmap
    try:
        return matplotlib.colormaps[cmap]
    except (KeyError, TypeError):
        raise ValueError(
            expected("cmap", "a matplotlib colormap name or Colormap", cmap,
                     "For example 'jet', 'viridis', 'inferno', 'gray'.")
        ) from None


def _rgb_image(image):
    pixels = to_uint8(image)  # refuses complex images too
    if pixels.ndim == 4 and pixels.shape[0] == 1:
        pixels = pixels[0]
    pixels = image_layout(pixels)
    if pixels.ndim == 2:
        return np.repeat(pixels[..., None], 3, axis=-1)
    return pixels[..., :3]


def _heatmap_2d(heatmap, normalize):
    values = np.asarray(heatmap.numpy() if hasattr(heatmap, "numpy") else heatmap)
    if values.dtype == bool or not np.issubdtype(values.dtype, np.number):
        raise TypeError(expected("heatmap", "a numeric array (h, w)", heatmap))
    values = check_real(values, "heatmap").astype(np.float32)
    while values.ndim > 2 and values.shape[0] == 1:
        values = values[0]
    if values.ndim == 3 and values.shape[-1] == 1:
        values = values[..., 0]
    if values.ndim != 2 or 0 in values.shape:
        raise ValueError(expected("heatmap", "a 2D map (h, w), (h, w, 1) or a batch of one", values))
    if not np.all(np.isfinite(values)):
        raise ValueError(expected("heatmap", "finite values (no NaN or inf)", values))
    if normalize:
        return _rescale(values)
    return np.clip(values, 0.0, 1.0)


def _rescale(values):
    """Maps `values` linearly onto [0, 1] by their minimum and maximum (a constant maps to 0)."""
    low, high = float(values.min()), float(values.max())
    return ((values - low) / max(high - low, 1e-12)).astype(np.float32)


def _mosaic(kernel):
    """Lays the `(kh, kw, c)` channels of one filter out in a near-square grid, 1-pixel NaN gaps."""
    kh, kw, channels = kernel.shape
    cols = math.ceil(math.sqrt(channels))
    rows = math.ceil(channels / cols)
    canvas = np.full((rows * (kh + 1) - 1, cols * (kw + 1) - 1), np.nan, np.float32)
    for index in range(channels):
        y, x = divmod(index, cols)
        canvas[y * (kh + 1): y * (kh + 1) + kh, x * (kw + 1): x * (kw + 1) + kw] = kernel[..., index]
    return canvas


def _tiles(images):
    if isinstance(images, np.ndarray) or hasattr(images, "numpy"):
        array = np.asarray(images)
        if array.ndim not in (3, 4):
            raise ValueError(
                expected("images", "a batch (N, H, W) or (N, H, W, C), or a list of images", array)
            )
        tiles = list(array)
    else:
        tiles = [np.asarray(tile) for tile in images]
    if not tiles:
        raise ValueError(expected("images", "at least one image", images))
    return [image_layout(check_real(tile, f"images[{index}]"), f"images[{index}]")
            for index, tile in enumerate(tiles)]


def _columns(cols, count):
    if cols is None:
        return max(1, math.ceil(math.sqrt(count)))
    return min(check_positive_int(cols, "cols"), count)


def _draw_tiles(figure, tiles, cols, titles, *, cmap, normalize, total_cols=None):
    """Draws `tiles` on a figure or sub-figure, `cols` per row, in a grid `total_cols` wide."""
    colormap = _colormap(cmap).with_extremes(bad="white")
    total_cols = total_cols or cols
    rows = math.ceil(len(tiles) / cols)
    axes = figure.subplots(rows, total_cols, squeeze=False,
                           gridspec_kw={"wspace": 0.08, "hspace": 0.3 if titles else 0.08})
    for index, ax in enumerate(axes.flat):
        ax.set_axis_off()
        row, col = divmod(index, total_cols)
        position = row * cols + col
        if col >= cols or position >= len(tiles):
            continue
        tile = tiles[position]
        if tile.ndim == 2:
            ax.imshow(tile, cmap=colormap, interpolation="nearest")
        else:
            ax.imshow(_rescale(tile) if normalize else to_uint8(tile, f"images[{position}]"),
                      interpolation="nearest")
        if titles is not None:
            ax.set_title(str(titles[position]), fontsize="small")
