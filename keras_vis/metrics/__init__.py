"""Faithfulness metrics: is an attribution map true to the model, and does it find the object?

- `deletion` / `insertion`: the target probability as the most important pixels are removed or
  revealed, and the area under that curve (Petsiuk et al., RISE).
- `pointing_game` / `energy_pointing`: does the map's maximum, or its mass, fall on the object's
  ground-truth mask (Zhang et al.; Wang et al., Score-CAM).
- `road`: deletion with the removed pixels imputed from their neighbours, so the mask's shape
  leaks nothing (Rong et al., Remove And Debias).
- `average_drop`: the confidence lost, and how often it rises, when the image is seen through
  its map (Chattopadhyay et al., Grad-CAM++).
- `mufidelity`: the correlation of the map's mass on random subsets of the image with the score
  drop when they are removed (Bhatt et al.).
- `randomization_check`: do the maps change when the model's weights are randomized, from the top
  layer down (Adebayo et al., sanity checks)?
- `sparseness`: how concentrated each map is, the Gini index of its values (Chalasani et al.).

Each returns a `MetricResult`: one `score`, the per-image `values`, `higher_is_better` and the
`curve` where there is one. `evaluate(name, ...)` runs any of them by the name
`keras_vis.registry.METRICS` lists, on the inputs it reads.
"""

from keras_vis import registry as _registry
from keras_vis.metrics.deletion import CurveResult
from keras_vis.metrics.drop import DropResult
from keras_vis.metrics.evaluate import evaluate, metric_options
from keras_vis.metrics.mufidelity import MuFidelityResult
from keras_vis.metrics.pointing import EnergyResult, PointingResult
from keras_vis.metrics.randomization import RandomizationResult
from keras_vis.metrics.result import MetricResult
from keras_vis.metrics.road import RoadResult

# Every metric of the registry, by its name: a new one needs no line here.
globals().update({spec.name: spec.load() for spec in _registry.METRICS})

__all__ = [
    "CurveResult",
    "DropResult",
    "EnergyResult",
    "MetricResult",
    "MuFidelityResult",
    "PointingResult",
    "RandomizationResult",
    "RoadResult",
    "evaluate",
    "metric_options",
    *(spec.name for spec in _registry.METRICS),
]
