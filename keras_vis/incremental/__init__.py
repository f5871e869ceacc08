"""Incremental inference: scoring many copies of an image that differ from it on a small patch.

A patch of the input changes only the units of each feature map whose receptive field it touches
(its *projective field*), so most of every map can be reused from the unaltered image's pass
(incremental view maintenance for CNN inference, as in Krypton: Nakandala, Kumar and
Papakonstantinou, SIGMOD 2019). For the local part of a model (convolutions, poolings, paddings,
per-position layers and merges, up to the first Flatten, global pooling, Dense or unknown layer:
`_graph`), the unaltered maps are computed once per image, the changed region of every map is
worked out per patch position (`_regions`), and each batch of copies computes each map on its
region only, gathered into one tensor, before the rest of the model runs whole on the completed
maps (`_step`). Only the regions of `batch_size` copies exist at once; the cached maps are held
once per image.

`keras_vis.occlusion` uses it; any perturbation of rectangular patches can.
"""

import numpy as np

from keras_vis import _keras, steps
from keras_vis.incremental._graph import NotLocal, local_part
from keras_vis.incremental._regions import Regions, cost_fraction, direct_reads, propagate
from keras_vis.incremental._step import IncrementalSteps

AUTO_COST_LIMIT = 0.5
"""`"auto"` computes incrementally when the estimated cost per copy is at most this fraction of a
whole forward pass (the gathering and pasting of regions cost the rest)..."""

AUTO_MIN_SAVING = 1e10
"""... and when it saves at least this many multiply-adds over the job, about a tenth of a second
of a CPU: below, compiling the incremental steps costs more than they save."""

__all__ = ["AUTO_COST_LIMIT", "AUTO_MIN_SAVING", "NotLocal", "PatchScorer", "Regions",
           "patch_scorer"]


class PatchScorer:
    """Scores copies of images whose pixels differ on one patch each, incrementally.

    Made by `patch_scorer`. Attributes: `regions` (the `Regions` of every map), `cost_fraction`
    (the estimated cost per copy against a whole forward pass).
    """

    def __init__(self, compiled, regions, fraction):
        self._steps = compiled
        self.regions = regions
        self.cost_fraction = fraction

    def scores(self, images, patch_pixels, data, *, batch_size, bar):
        """The target score of every copy: float32 `(N, positions)`.

        Args:
            images: float32 `(N, H, W, C)`.
            patch_pixels: `patch_pixels(image, positions)` returns the float32 pixels
                `(len(positions), h, w, C)` that copy `positions` of image `image` has on its
                patch.
            data: the target's data per image (`Target.data`, resolved), first axis `N`.
            batch_size: copies per compiled call.
            bar: a `keras_vis.progress.Bar` advanced by copies.
        """
        count, positions = len(images), len(self.regions.starts)
        table = np.empty((count, positions), np.float32)
        for image in range(count):
            cached = self._steps.cache(images[image:image + 1])
            for start in range(0, positions, batch_size):
                chosen = np.arange(start, min(start + batch_size, positions))
                pixels = np.asarray(patch_pixels(image, chosen), np.float32)
                class_index = np.repeat(data[image:image + 1], len(chosen), axis=0)
                table[image, chosen] = self._steps.scores(
                    pixels, self.regions.starts[chosen], cached, class_index)
                bar.advance(len(chosen))
        return table


def patch_scorer(model, target, *, head, image_shape, patch_size, patch_starts,
                 approximate=None, image_count=1, required=False):
    """A `PatchScorer` for copies with a patch of `patch_size` at each of `patch_starts`, or
    `None` when incremental scoring would not be faster (unless `required`).

    Args:
        model: a built single-input, channels-last `keras.Model`.
        target: a `keras_vis.targets.Target` scoring the model outputs.
        head: the engine head policy (`"linear"` or `"model"`).
        image_shape: the images' `(H, W, C)`.
        patch_size: the patch's `(height, width)`.
        patch_starts: int `(positions, 2)`: each copy's patch corner.
        approximate: `None` (exact) or Krypton's threshold τ in (0, 1] (see `_regions`).
        image_count: how many images the copies are made of (the job's size).
        required: return the scorer even when it is estimated not to be faster.

    Raises:
        NotLocal: with the reason, when the model or target cannot be computed incrementally.
    """
    if _keras.layer_graph(model) is None:
        raise NotLocal(f"model '{model.name}' is subclassed: its layer graph cannot be read")
    tapped = target.resolve(model)
    if tapped:
        raise NotLocal(f"the target scores inner layer '{tapped[0].name}', not the outputs")
    part = local_part(model, tuple(image_shape))
    regions = propagate(part, patch_starts, patch_size, approximate)
    fraction = cost_fraction(part, regions)
    saving = (1 - fraction) * part.full_cost * len(regions.starts) * image_count
    if not required and (fraction > AUTO_COST_LIMIT or saving < AUTO_MIN_SAVING):
        return None
    direct = direct_reads(part, regions)
    key = (head, target.key(), tuple(image_shape), regions.sizes, direct)
    compiled = steps.cached(model, "incremental", key, lambda: IncrementalSteps(
        model, part, regions.sizes, direct, target, head))
    return PatchScorer(compiled, regions, fraction)
