"""Activation maximization: images that make a channel, a neuron or a class respond most.

    >>> from keras_vis.maximization import maximize, objectives
    >>> images = maximize(model, objectives.channel("block3_conv1", range(16)), size=64, steps=32)

- `objectives`: what to maximize (`channel`, `neuron`, `class_logit`, `direction`,
  `direction_neuron`, `channel_interpolate`), `diversity` across a batch and penalties
  (`total_variation`, `l2`), combined with `+`, `-` and `*`.
- `params`: pixel or Fourier parameterisation, optionally with decorrelated colours.
- `transforms`: random jitter, scale and rotation applied at every step.
- `callbacks`: a progress bar, the objective's history, a GIF recorder.
- `invert`: feature inversion, images whose activations at a layer match those of given images.
- recipes: `filter_visualization`, `multiscale_visualization`, `class_visualization`, `deprocess`.
"""

from keras_vis import objectives  # in the core: attribution targets are objectives too
from keras_vis.maximization import callbacks, params, transforms
from keras_vis.objectives import (
    Objective,
    channel,
    channel_interpolate,
    class_logit,
    direction,
    direction_neuron,
    diversity,
    l2,
    neuron,
    total_variation,
)
from keras_vis.maximization.inversion import invert
from keras_vis.maximization.recipes import (
    class_visualization,
    deprocess,
    filter_visualization,
    multiscale_visualization,
)
from keras_vis.maximization.render import maximize

__all__ = [
    "Objective",
    "callbacks",
    "channel",
    "channel_interpolate",
    "class_logit",
    "class_visualization",
    "deprocess",
    "direction",
    "direction_neuron",
    "diversity",
    "filter_visualization",
    "invert",
    "l2",
    "maximize",
    "multiscale_visualization",
    "neuron",
    "objectives",
    "params",
    "total_variation",
    "transforms",
]
