"""The attribution methods a report draws, and how it runs them, read from `keras_vis.registry`.

A method turns a `Subject`, a target and the `Settings` into `(N, H, W)` maps in [0, 1]; its
`MethodSpec` gives the title, caption and colours it is drawn with.
"""

from keras_vis import registry
from keras_vis.attribution._maps import center

# The `MethodSpec`s of the report's method table, in display order.
METHODS = registry.drawn()

BY_NAME = {method.name: method for method in METHODS}


def group(family):
    """The methods of one family (`"saliency"`, `"cam"`, ...), in display order."""
    return [method for method in METHODS if method.family == family]


def compute(method, subject, target, settings):
    """The maps of `method` (a `MethodSpec`) for the subject's images: float32 `(N, H, W)` in
    [0, 1]; a signed method's raw maps are centred, zero at 0.5."""
    function = method.load()
    options = method.report_arguments(subject, settings)
    if method.drawing is not None and method.drawing.signed:
        return center(function(subject.model, subject.inputs, target, **options, normalize=False,
                               batch_size=settings.batch_size))
    return function(subject.model, subject.inputs, target, **options,
                    batch_size=settings.batch_size)
