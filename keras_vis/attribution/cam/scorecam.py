"""Score-CAM (Wang et al., 2020) and its faster top-N variant (Faster-Score-CAM)."""

import numpy as np

from keras_vis.attribution._copies import copy_scores
from keras_vis.registry import DEFAULTS
from keras_vis.attribution._fill import check_fill, fill_images, seen_through
from keras_vis.attribution._maps import resize
from keras_vis.attribution.cam.base import ALL_CHANNELS, BaseCAM, check_channel_count

DEFAULT_MAX_MAPS = DEFAULTS["score_cam_maps"]
"""Channels scored by default, those of highest activation variance (Faster-Score-CAM). One masked
copy per channel and image is one forward pass: for two 96×96 images on two CPU cores, all 768
channels of ConvNeXt-Tiny's last stage took 200 s, 64 took 31 s."""

ALL_MAPS = ALL_CHANNELS
"""The `max_maps` that scores every channel, as in the paper."""


def check_max_maps(max_maps):
    """The number of channels to keep, `DEFAULT_MAX_MAPS` for `None`, or `ALL_MAPS`.

    Raises:
        TypeError: for a value that is neither `None`, an integer nor a string.
        ValueError: for an integer below 1 or a string other than `"all"`.
    """
    return check_channel_count(max_maps, "max_maps", DEFAULT_MAX_MAPS,
                               f"at most {DEFAULT_MAX_MAPS} channels")


class ScoreCAM(BaseCAM):
    """Weights: the target's score when the image is seen only through each channel's map.

    Each channel map is upsampled to the input size and min-max scaled to [0, 1], and the image is
    seen through it: `fill + mask (x - fill)`, where the mask is 0 the pixel takes the fill value.
    The masked copies of all images go through batched forward passes, `batch_size` at a time. By
    default the score is the model's output probability, as in the authors' code. Channels with a
    constant map carry no location and get weight 0.

    Args:
        max_maps: how many channels to score per image, those of highest activation variance
            (Faster-Score-CAM; the others get weight 0): `None` for at most `DEFAULT_MAX_MAPS`
            (64), an integer for at most that many, or `"all"` for every channel, as in the
            paper: one forward pass per channel and image.
        fill: the value hidden pixels take, in the model's input units, as in
            `keras_vis.occlusion`: a number, one number per channel, an array broadcastable to
            the images, `"mean"` or `"blur"`; `None` for `"mean"`, each image's own channel
            means. The paper multiplies the image by the mask, which is `fill=0`: black for a
            model taking [0, 1] or [0, 255] pixels, a colour the data rarely hold, and a worse
            map (the demo model's pointing game: 77 % of 128 images with 0, 99 % with the mean).

    Raises:
        TypeError, ValueError: for a bad `max_maps` or a `fill` of none of the accepted forms.
    """

    needs_gradients = False
    scores_probabilities = True

    def __init__(self, max_maps=None, fill=None):
        self.max_maps = check_max_maps(max_maps)
        self.fill = check_fill(fill)

    def channel_weights(self, activations, gradients, context):
        count, _, _, channels = activations.shape
        images = context.images
        fill_values = np.ascontiguousarray(fill_images(self.fill, images))  # gathered per chunk
        variance = activations.var(axis=(1, 2))
        kept = channels if self.max_maps == ALL_MAPS else min(self.max_maps, channels)
        chosen = np.argsort(-variance, axis=1, kind="stable")[:, :kept]

        def masked_copies(image_index, rank):
            maps = activations[image_index, :, :, chosen[image_index, rank]]
            masks = resize(maps, images.shape[1:3])
            low = masks.min(axis=(1, 2), keepdims=True)
            span = masks.max(axis=(1, 2), keepdims=True) - low
            masks = np.divide(masks - low, span, out=np.zeros_like(masks), where=span > 0)
            return seen_through(images[image_index], masks, fill_values[image_index])

        scores = copy_scores(context.model, context.target, context.classes, count, kept,
                             masked_copies, batch_size=context.batch_size, head=context.head,
                             label="Score-CAM", progress=context.progress)
        weights = np.zeros((count, channels), np.float32)
        rows = np.arange(count)[:, None]
        weights[rows, chosen] = np.where(variance[rows, chosen] > 0, scores, 0.0)
        return weights[:, None, None, :]
