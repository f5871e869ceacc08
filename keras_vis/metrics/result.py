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
    """A result that follows a curve per image and scores the area under it.

    `auc`, float32 `(N,)`, the area under each curve divided by the span of its x values (the
    curve's mean height, trapezoid rule; the one point itself for a one-point curve), are the
    `values`, and `mean_auc` is the `score`. Subclasses hold the curves in `curves` and name, as
    class arguments, the field of the curves' x values (`x_field`), the field that says which way
    the curve runs (`direction_field`), the direction in which a higher area is better
    (`higher_when`) and whether the area takes the points as evenly spaced (`even`).
    """

    x_field = None
    direction_field = None
    higher_when = None
    even = False
    values_field = "auc"

    def __init_subclass__(cls, *, x_field=None, direction_field=None, higher_when=None,
                          even=False, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.x_field = x_field or cls.x_field
        cls.direction_field = direction_field or cls.direction_field
        cls.higher_when = higher_when or cls.higher_when
        cls.even = even or cls.even

    @property
    def auc(self):
        x = np.asarray(getattr(self, self.x_field), np.float64)
        if self.even:
            x = np.linspace(x[0], x[-1], len(x))
        curves = np.asarray(self.curves, np.float64)
        if len(x) == 1:
            return curves[:, 0].astype(np.float32)
        area = ((curves[:, :-1] + curves[:, 1:]) * np.diff(x)).sum(axis=1) / 2
        return (area / (x[-1] - x[0])).astype(np.float32)

    @property
    def curve(self):
        return getattr(self, self.x_field), self.curves

    @property
    def mean_auc(self):
        return self.score

    @property
    def higher_is_better(self):
        return self.direction == self.higher_when

    @property
    def direction(self):
        """Which way the curve runs (`"deletion"`, `"morf"`, ...)."""
        return getattr(self, self.direction_field)

    def title(self):
        """The curve's name in `str()`."""
        return self.direction

    def __str__(self):
        points = len(getattr(self, self.x_field))
        better = "higher" if self.higher_is_better else "lower"
        return (f"{self.title()} AUC: {self.mean_auc:.4f} (mean of {len(self.curves)} images, "
                f"{points} point{'s' * (points != 1)} each; {better} is more faithful)")


__all__ = ["CurveAreaResult", "MeanResult", "MetricResult"]
