"""Score-CAM (Wang et al., 2020) and its faster top-N variant (Faster-Score-CAM)."""

import numpy as np

from keras_vis._checks import check_positive_int
from keras_vis.attribution._copies import copy_scores
from keras_vis.attribution._maps import resize
from keras_vis.attribution.cam.base import BaseCAM


class ScoreCAM(BaseCAM):
    """Weights: the target's score when the image is seen only through each channel's map.

    Each channel map is upsampled to the input size, min-max scaled to [0, 1] and multiplied into
    the image (in the model's input units); the masked copies of all images go through batched
    forward passes, `batch_size` at a time. By default the score is the model's output probability,
    as in the authors' code. Channels with a constant map carry no location and get weight 0.

    Args:
        max_maps: keep only this many channels per image, those of highest activation variance
            (Faster-Score-CAM); `None` uses every channel: one forward pass per channel and
            image.
    """

    needs_gradients = False
    scores_probabilities = True

    def __init__(self, max_maps=None):
        self.max_maps = None if max_maps is None else check_positive_int(max_maps, "max_maps")

    def channel_weights(self, activations, gradients, context):
        count, _, _, channels = activations.shape
        images = context.images
        variance = activations.var(axis=(1, 2))
        kept = channels if self.max_maps is None else min(self.max_maps, channels)
        chosen = np.argsort(-variance, axis=1, kind="stable")[:, :kept]

        def masked_copies(image_index, rank):
            maps = activations[image_index, :, :, chosen[image_index, rank]]
            masks = resize(maps, images.shape[1:3])
            low = masks.min(axis=(1, 2), keepdims=True)
            span = masks.max(axis=(1, 2), keepdims=True) - low
            masks = np.divide(masks - low, span, out=np.zeros_like(masks), where=span > 0)
            return images[image_index] * masks[..., None]

        scores = copy_scores(context.model, context.target, context.classes, count, kept,
                             masked_copies, batch_size=context.batch_size, head=context.head)
        weights = np.zeros((count, channels), np.float32)
        rows = np.arange(count)[:, None]
        weights[rows, chosen] = np.where(variance[rows, chosen] > 0, scores, 0.0)
        return weights[:, None, None, :]
