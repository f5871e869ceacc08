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

    @property
    def values(self):
        raise NotImplementedError(f"{type(self).__name__} defines no `values`")

    @property
    def score(self):
        return float(np.mean(self.values))

    @property
    def curve(self):
        return None


class CurveAreaResult(MetricResult):
    """A result that follows a curve per image and scores the area under it: `auc`, float32
    `(N,)`, are the `values`, and `mean_auc` is the `score`."""

    @property
    def values(self):
        return self.auc

    @property
    def mean_auc(self):
        return self.score


__all__ = ["CurveAreaResult", "MetricResult"]
