"""The explorer's pictures of many small maps: feature maps and filters as one PNG mosaic.

Drawn with numpy and OpenCV rather than matplotlib figures: a page of tiles is ready in a few
milliseconds, so paging through a layer's channels answers at the speed of the model.
"""

import matplotlib
import numpy as np

from keras_vis.pixels import scale_each_to_uint8, tile
from keras_vis.report.pictures import array_png, enlarge

# Tiles are enlarged (by a whole factor, nearest neighbour) to at least this many pixels.
TILE_PIXELS = 64
COLUMNS = 8


def _coloured(values, cmap):
    """float `(K, h, w)` in [0, 1], NaN for gaps, as uint8 RGB `(K, h, w, 3)`; gaps white."""
    colours = matplotlib.colormaps[cmap](np.nan_to_num(values, nan=0.0))[..., :3]
    colours[np.isnan(values)] = 1.0
    return np.round(colours * 255).astype(np.uint8)


def mosaic_png(tiles, *, cols=COLUMNS, tile_pixels=TILE_PIXELS):
    """uint8 RGB tiles `(K, h, w, 3)` enlarged and laid out in rows of `cols`, as PNG bytes."""
    enlarged = np.stack([enlarge(t, tile_pixels) for t in tiles])
    return array_png(tile(enlarged, cols=min(cols, len(tiles)), pad=2, fill=255))


def feature_page_png(values, channels):
    """The feature maps `values` `(h, w, C)` of `channels`, each scaled to its own range and drawn
    with viridis (bright = strong), as PNG bytes."""
    maps = np.moveaxis(np.asarray(values, np.float32)[..., channels], -1, 0)
    scaled = scale_each_to_uint8(maps).astype(np.float32) / 255.0
    return mosaic_png(_coloured(scaled, "viridis"))


def filter_page_png(tiles):
    """Tiles of `keras_vis.plot.filter_tiles` (RGB kernels, or grey grids with NaN gaps), as PNG
    bytes."""
    tiles = np.stack(tiles).astype(np.float32)
    if tiles.ndim == 4:  # colour kernels (K, kh, kw, 3) in [0, 1]
        pixels = np.round(np.clip(tiles, 0.0, 1.0) * 255).astype(np.uint8)
    else:
        pixels = _coloured(tiles, "gray")
    return mosaic_png(pixels, tile_pixels=48)
