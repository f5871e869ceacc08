"""What every metric returns: one headline `score`, the per-image `values` it sums up, and the
`curve` where the metric follows one.

Each metric's result class (`CurveResult`, `DropResult`, ...) keeps its own fields and names
(`mean_auc`, `average_drop`, `mean`, ...) and is a `MetricResult` too, so that a report, a callback
or a benchmark reads any metric the same way:

    >>> result = keras_vis.metrics.evaluate("deletion", model=model, images=images, maps=maps)
    >>> result.higher_is_better, result.values.shape, 0 <= result.score <= 1
    (False, (5,), True)
"""

import numpy as np


class MetricResult:
    """The face every metric result shows; subclasses define `values` and `higher_is_better`.

    Attributes:
        values: float32 `(N,)`, the metric per image (a hit is 1.0, a miss 0.0).
        score: the headline number: the mean of `values` unless the metric says otherwise.
        higher_is_better: whether a higher `score` means a better (more faithful) map.
        curve: `(x, curves)` where the metric follows a curve per image: `x` float32 `(P,)` and
            `curves` float32 `(N, P)`; `None` for a metric with one number per image.
    """

    higher_is_better = True
    #: The field that holds the values per image, for a result that keeps them as they are.
    values_field = None

    @property
    def values(self):
        if self.values_field is None:
            raise NotImplementedError(f"{type(self).__name__} defines no `values`")
        return getattr(self, self.values_field)

    @property
    def score(self):
        return float(np.mean(self.values))

    @property
    def curve(self):
        return None


class MeanResult(MetricResult):
    """A result whose `score` is also called `mean` (the pointing games, MuFidelity)."""

    @property
    def mean(self):
        return self.score


class CurveAreaResult(MetricResult):
    """A result that follows a curve per image and scores the area under it: `auc`, float32
    `(N,)`, are the `values`, and `mean_auc` is the `score`. Subclasses name the field that holds
    the curves' x values (`x_field`) and hold the curves in `curves`."""

    x_field = None
    values_field = "auc"

    @property
    def curve(self):
        return getattr(self, self.x_field), self.curves

    @property
    def mean_auc(self):
        return self.score


__all__ = ["CurveAreaResult", "MeanResult", "MetricResult"]
