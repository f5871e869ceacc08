"""RISE (Petsiuk et al., 2018): the target's score of the image seen through random masks.

Each mask is a random binary grid of `cells` (each cell on with probability `p`), bilinearly
upsampled to `(cells + 1) * step` pixels per side, `step = ceil(size / cells)`, and cropped to the
image at a random shift in `[0, step)`: a smooth mask whose blobs fall anywhere, not only on the
grid. The map is the mean of the masks weighted by the scores, `sum_i s_i M_i / (masks * p)`: the
expected score when a pixel is seen.

The grids and shifts are drawn in blocks of `MASK_BLOCK` masks, each block from its own stream of
the seed, and upsampled only for the copies being scored: no more than `batch_size` full-size
masks exist at once, and a seed gives the same masks whatever the batch size.
"""

import numpy as np

from keras_vis._checks import check_flag, check_number, check_positive_int, expected
from keras_vis.attribution import _defaults
from keras_vis.attribution._copies import copy_scores
from keras_vis.attribution._fill import fill_images, seen_through
from keras_vis.attribution._inputs import check_flag, head, prepare, resolve_classes
from keras_vis.blank import PERTURBATION, check_maps
from keras_vis.attribution._maps import normalize as normalize_maps
from keras_vis.attribution.occlusion import size_pair

MASK_BLOCK = 256
"""Masks whose grids are drawn together from one stream of the seed."""


def _axis_weights(size, cells):
    """`(step, size, cells)`: for each shift, the bilinear weights of the grid cells along one axis
    at each pixel of the cropped, upsampled mask (half-pixel centres, edges clamped, as
    `tf.image.resize`)."""
    step = -(-size // cells)
    upsampled = (cells + 1) * step
    pixels = np.arange(step)[:, None] + np.arange(size)[None, :]
    source = np.clip((pixels + 0.5) * cells / upsampled - 0.5, 0, cells - 1)
    low = np.floor(source).astype(int)
    high = np.minimum(low + 1, cells - 1)
    fraction = (source - low).astype(np.float32)
    eye = np.eye(cells, dtype=np.float32)
    return eye[low] * (1 - fraction)[..., None] + eye[high] * fraction[..., None]


def _upsampled(rows, columns, grids, shifts):
    """`rows`, `columns`: the `_axis_weights` of the two axes."""
    return rows[shifts[:, 0]] @ grids @ columns[shifts[:, 1]].transpose(0, 2, 1)


def upsample(grids, shifts, size):
    """Soft masks from binary grids: each grid bilinearly upsampled to `(cells + 1) * step` pixels
    per side (`step = ceil(size / cells)`) and cropped to `size` from its shift.

    Args:
        grids: `(K, cells_h, cells_w)` 0/1 values.
        shifts: int `(K, 2)`, the `(row, column)` offsets of the crops, each in `[0, step)`.
        size: the image's `(height, width)`.

    Returns:
        float32 `(K, height, width)` masks in [0, 1].
    """
    grids = np.asarray(grids, np.float32)
    rows, columns = (_axis_weights(s, c) for s, c in zip(size, grids.shape[1:]))
    return _upsampled(rows, columns, grids, np.asarray(shifts))


class MaskSet:
    """RISE's random masks, drawn block by block from a seed and upsampled on demand.

    Args:
        count: the number of masks.
        cells: `(cells_h, cells_w)` grid cells per side.
        p: the probability that a cell is on.
        size: the image's `(height, width)`.
        seed: an integer >= 0, or `None` for fresh randomness.
    """

    def __init__(self, count, cells, p, size, seed=None):
        self.count, self.cells, self.p, self.size = count, cells, p, size
        self.steps = tuple(-(-s // c) for s, c in zip(size, cells))
        self.entropy = np.random.SeedSequence(seed).entropy
        self._rows = _axis_weights(size[0], cells[0])
        self._columns = _axis_weights(size[1], cells[1])
        self._drawn = {}

    def block(self, index):
        """The grids `(B, cells_h, cells_w)` bool and shifts int `(B, 2)` of block `index`."""
        rng = np.random.default_rng([self.entropy, index])
        count = min(MASK_BLOCK, self.count - index * MASK_BLOCK)
        grids = rng.random((count,) + self.cells) < self.p
        shifts = np.stack([rng.integers(0, step, count) for step in self.steps], axis=1)
        return grids, shifts

    def __call__(self, indices):
        """The masks of `indices`: float32 `(len(indices), height, width)`."""
        blocks = indices // MASK_BLOCK
        # A chunk of copies spans a few consecutive blocks; the ones the last chunk used are kept.
        self._drawn = {b: self._drawn.get(b) or self.block(b) for b in np.unique(blocks)}
        grids = np.empty((len(indices),) + self.cells, np.float32)
        shifts = np.empty((len(indices), 2), int)
        for b, (block_grids, block_shifts) in self._drawn.items():
            chosen = blocks == b
            grids[chosen] = block_grids[indices[chosen] % MASK_BLOCK]
            shifts[chosen] = block_shifts[indices[chosen] % MASK_BLOCK]
        return _upsampled(self._rows, self._columns, grids, shifts)


def _cells(cell, size):
    cells = size_pair(cell, "cell")
    if cells[0] > size[0] or cells[1] > size[1]:
        raise ValueError(
            expected("cell", f"at most the image size {size[0]}×{size[1]} (grid cells per side)",
                     cell, "Pass a smaller `cell`.")
        )
    return cells


def weighted_masks(masks, scores, batch_size):
    """`sum_i scores[:, i] M_i / (count * p)` over the mask set, a chunk of masks at a time:
    float32 `(N, height, width)`."""
    total = np.zeros((len(scores), masks.size[0] * masks.size[1]))
    for start in range(0, masks.count, batch_size):
        indices = np.arange(start, min(start + batch_size, masks.count))
        total += scores[:, indices] @ masks(indices).reshape(len(indices), -1)
    return (total / (masks.count * masks.p)).reshape((-1,) + masks.size).astype(np.float32)


def rise_maps(model, images, target, masks, *, fill, logits, batch_size, progress):
    """The raw RISE maps of checked arguments for a mask set: `masks(indices)` gives the masks
    `(K, H, W)` of mask indices, `masks.count` their number and `masks.p` the keep probability."""
    fill_values = np.ascontiguousarray(fill_images(fill, images))  # rows gathered per chunk

    def masked_copies(image_index, mask_index):
        return seen_through(images[image_index], masks(mask_index), fill_values[image_index])

    classes = resolve_classes(model, images, target, batch_size=batch_size)
    scores = copy_scores(model, target, classes, len(images), masks.count, masked_copies,
                         batch_size=batch_size, head=head(logits), label="RISE",
                         progress=progress)
    # Equal scores weight every mask alike: the map is the masks' own noise, not an answer.
    check_maps("rise", PERTURBATION, scores, target)
    return weighted_masks(masks, scores, batch_size)


def rise(model, images, target=None, *, masks=_defaults.RISE_MASKS, cell=_defaults.RISE_CELL,
         p=_defaults.RISE_KEEP, fill=None, seed=None, logits=False, normalize=True,
         batch_size=_defaults.RISE_BATCH_SIZE, progress=True):
    """RISE map (Petsiuk et al., 2018): the target's mean score over random masks that show a pixel.

    `masks` random binary grids of `cell × cell` cells, each cell on with probability `p`, are
    bilinearly upsampled to `(cell + 1) * ceil(H / cell)` pixels and cropped to the image at a
    random shift (smooth masks whose blobs fall anywhere). Each image is seen through each mask,
    `fill + mask (x - fill)`, and scored; the map is `sum_i score_i M_i / (masks * p)`, the
    expected score when the pixel is seen. Every image of a call is seen through the same masks;
    the masked copies go through forward passes of `batch_size`, and no more than `batch_size`
    full-size masks exist at once.

    Args:
        model: a built single-input, channels-last `keras.Model`.
        images: numpy array or tensor `(N, H, W, C)` in the model's input units.
        target: as in `keras_vis.saliency`; the predicted class is that of the unmasked image.
        masks: the number of random masks (forward passes per image); the map's noise falls as
            `1 / sqrt(masks)`. The default (`keras_vis.registry.DEFAULTS`, one setting for the
            API, the report and the command line) keeps a call on a 224² ImageNet network within
            seconds per image on a CPU; the paper used 4000–8000 for its final maps.
        cell: grid cells per side, or `(rows, columns)`, at most the image size: the masks' blobs
            are about `H / cell` pixels wide.
        p: the probability that a cell is on, in (0, 1].
        fill: what hidden pixels become, in the model's input units, as in `keras_vis.occlusion`:
            a number, one number per channel, an array broadcastable to the images, `"mean"` or
            `"blur"`; `None` for `"mean"`, each image's channel means. The paper multiplies the
            image by the mask (`fill=0`), which is black only for a model taking [0, 1] or
            [0, 255] pixels and brings colours absent from the data into every copy.
        seed: an integer >= 0 for reproducible masks (the same seed gives the same maps), `None`
            for fresh randomness.
        logits: score the pre-softmax logit (True) instead of the model's output probability.
        normalize: scale each map min-max to [0, 1]: the score every pixel shares is removed,
            leaving where the score depends on the pixel. False returns the raw expected scores.
        batch_size: masked copies per forward pass (and at most in memory at once).
        progress: show a progress bar on stderr if the job runs more than a couple of seconds
            (see `keras_vis.progress`).

    Returns:
        float32 array `(N, H, W)`.

    Raises:
        ValueError: for `masks` < 1, `cell` < 1 or larger than the image, `p` outside (0, 1], a
            negative seed or a bad `fill`.
    """
    images, target = prepare(model, images, target)
    size = images.shape[1:3]
    count = check_positive_int(masks, "masks")
    cells = _cells(cell, size)
    p = check_number(p, "p", low=0, low_inclusive=False, high=1)
    if seed is not None:
        check_positive_int(seed, "seed", minimum=0)
    logits = check_flag(logits, "logits")
    normalize = check_flag(normalize, "normalize")
    batch_size = check_positive_int(batch_size, "batch_size")
    progress = check_flag(progress, "progress")
    mask_set = MaskSet(count, cells, p, size, seed)
    maps = rise_maps(model, images, target, mask_set, fill=fill, logits=logits,
                     batch_size=batch_size, progress=progress)
    if not normalize:
        return maps
    return normalize_maps(maps - maps.min(axis=(1, 2), keepdims=True))
