"""Any metric by its name, on what it reads: `evaluate("deletion", model=..., images=..., maps=...)`.

The metrics are those of `keras_vis.registry.METRICS`; each returns a `MetricResult`.
"""

import difflib
import inspect

from keras_vis import registry
from keras_vis._checks import describe, expected

# What a metric is told that it does not read, and how to say it.
_INPUT_WORDS = {"model": "a model", "method": "an attribution method", "images": "images",
                "maps": "maps", "masks": "object masks", "target": "a target"}


def metric_spec(name):
    """The `MetricSpec` of `name`, or `ValueError` listing the metrics (closest first)."""
    spec = registry.find_metric(name) if isinstance(name, str) else None
    if spec is None:
        names = [spec.name for spec in registry.METRICS]
        close = difflib.get_close_matches(str(name), names, n=3, cutoff=0.5)
        hint = f"Did you mean {close[0]!r}?" if close else None
        raise ValueError(expected("metric", f"one of {', '.join(names)}", name, hint))
    return spec


def metric_options(name):
    """The keyword options the metric `name` takes beyond its inputs (`steps`, `tolerance`, ...)."""
    spec = metric_spec(name)
    parameters = inspect.signature(spec.load()).parameters.values()
    return tuple(parameter.name for parameter in parameters
                 if parameter.kind is parameter.KEYWORD_ONLY and parameter.name != "target")


def options_for(name, options):
    """The items of `options` the metric `name` takes: for a caller that shares one set of options
    (`steps`, `batch_size`, `progress`) among several metrics."""
    taken = metric_options(name)
    return {option: value for option, value in options.items() if option in taken}


def metrics_for(names, held, *, argument, how_to_give):
    """The `MetricSpec`s of the metrics `names` for a caller that holds the inputs `held`, each
    refused, before any work, if it reads an input the caller lacks.

    Args:
        names: metric names of `keras_vis.registry.METRICS`, or `"all"` among them: every metric
            that reads only what is held.
        held: the names of `keras_vis.registry.METRIC_INPUTS` the caller has.
        argument: the argument the caller's user names metrics with (`"metrics"`, `"--metric"`).
        how_to_give: `{input: how the caller's user gives it}`, for the inputs it may lack.

    Returns:
        A tuple of `MetricSpec`, each once, in the order named.
    """
    names = tuple(dict.fromkeys(names))
    if not names:
        raise ValueError(expected(argument, "at least one metric name", list(names)))
    if "all" in names:
        return registry.metrics_reading(*held)
    specs = tuple(metric_spec(name) for name in names)
    for spec in specs:
        missing = [need for need in spec.needs if need not in held]
        if missing:
            raise ValueError(expected(
                argument, f"metrics that read only what is given ({', '.join(held)})", spec.name,
                f"{spec.name} reads {' and '.join(_INPUT_WORDS[need] for need in missing)}: "
                f"{'; '.join(how_to_give[need] for need in missing)}, or pick another metric."))
    return specs


def evaluate(metric, *, model=None, method=None, images=None, maps=None, masks=None, target=None,
             **options):
    """Runs the metric named `metric` on the inputs it reads.

        >>> result = keras_vis.metrics.evaluate("deletion", model=model, images=images,
        ...                                     maps=keras_vis.gradcam(model, images))
        >>> result.higher_is_better, result.values.shape
        (False, (5,))

    Args:
        metric: a name of `keras_vis.registry.METRICS` (`"deletion"`, `"pointing_game"`, ...).
        model, method, images, maps, masks, target: what metrics read; give those the metric's
            entry `needs`, and no other (`target` may stay `None`, the predicted class).
        **options: the metric's own options (`steps=`, `tolerance=`, `batch_size=`, ...).

    Returns:
        The metric's result, a `keras_vis.metrics.MetricResult`: `score`, `values` per image,
        `higher_is_better`, `curve`.

    Raises:
        ValueError: for an unknown metric, or an input it needs missing or one it does not read
            given; TypeError for an option it does not take. Each before any work.
    """
    spec = metric_spec(metric)
    given = {"model": model, "method": method, "images": images, "maps": maps, "masks": masks,
             "target": target}
    missing = [name for name in spec.positional if given[name] is None]
    if missing:
        raise ValueError(
            f"Expected the inputs {spec.name} reads: {', '.join(spec.positional)}. Received no "
            f"{', no '.join(missing)}. Pass {', '.join(f'`{name}=`' for name in missing)}.")
    extra = [name for name, value in given.items() if value is not None and name not in spec.needs]
    if extra:
        raise ValueError(
            f"Expected only the inputs {spec.name} reads: {', '.join(spec.needs)}. Received "
            f"{' and '.join(_INPUT_WORDS[name] for name in extra)} as well, which it would "
            f"ignore. Leave out {', '.join(f'`{name}=`' for name in extra)}, or pick a metric that "
            f"reads {'them' if len(extra) > 1 else 'it'}.")
    taken = metric_options(spec.name)
    unknown = sorted(set(options) - set(taken))
    if unknown:
        close = difflib.get_close_matches(unknown[0], taken, n=1, cutoff=0.6)
        raise TypeError(
            f"Expected options of {spec.name}: {', '.join(taken)}. Received: "
            f"{', '.join(f'{name}={describe(options[name])}' for name in unknown)}."
            + (f" Did you mean `{close[0]}=`?" if close else ""))
    keywords = {"target": target} if "target" in spec.needs else {}
    return spec.load()(*(given[name] for name in spec.positional), **keywords, **options)


def evaluate_on(metric, held, options=None):
    """Runs the metric named `metric` on what it reads of `held`: for a caller that holds more
    than any one metric reads (a callback, a command, a benchmark).

    Args:
        metric: a name of `keras_vis.registry.METRICS`.
        held: `{input: value}` of `keras_vis.registry.METRIC_INPUTS`: what the caller has.
        options: options shared among metrics; the metric is given those it takes.

    Returns:
        As `evaluate`, which raises for an input the metric needs that `held` lacks.
    """
    spec = metric_spec(metric)
    return evaluate(spec.name, **{need: held[need] for need in spec.needs if need in held},
                    **options_for(spec.name, options or {}))


__all__ = ["evaluate", "evaluate_on", "metric_options", "metric_spec", "metrics_for",
           "options_for"]
