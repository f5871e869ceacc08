"""`keras-vis evaluate`: how faithful the maps of attribution methods are, by the metrics of
`keras_vis.registry.METRICS`, as a table of scores (printed, and written as evaluate.txt and,
with the values per image, evaluate.json)."""

import json

import numpy as np

from keras_vis import blank, io, registry
from keras_vis._checks import expected
from keras_vis.cli import inputs
from keras_vis.cli.parser import find_command
from keras_vis.metrics.evaluate import evaluate_on, metrics_for

DEFAULT_METHOD = "gradcam"


def method_names(args, subject, settings):
    """The methods `--method` names (default gradcam; `all`: every method that can run here); one
    named explicitly must be able to run."""
    names = args.method or [DEFAULT_METHOD]
    if "all" in names:
        return [spec.name for spec in registry.METHODS
                if not spec.why_unavailable(subject, settings)]
    return inputs.runnable(names, subject, settings)


def metric_specs(args, masks):
    """The metrics `--metric` names (default: every one the inputs allow: those reading masks only
    with `--mask`)."""
    held = tuple(need for need in registry.METRIC_INPUTS if need != "masks" or masks is not None)
    return metrics_for(args.metric or ["all"], held, argument="--metric",
                       how_to_give={"masks": "pass one --mask FILE per image"})


def load_masks(paths, subject):
    """bool `(N, H, W)` object masks from `--mask` files (one per image, in order; white on the
    object), or `None`."""
    if not paths:
        return None
    count, height, width = subject.inputs.shape[:3]
    if len(paths) != count:
        raise ValueError(expected("--mask", f"one mask file per image ({count})",
                                  f"{len(paths)} files"))
    pictures = io.load_images(paths, target_size=(height, width))
    return pictures.mean(axis=-1) > 127


def _metric_options(args):
    """The command's options that reach the metrics (each takes those it has)."""
    given = {"seed": args.seed, "batch_size": args.batch_size}
    return {**{name: value for name, value in given.items() if value is not None},
            "progress": not args.quiet}


def scores(args, subject, target, settings):
    """`{method: {metric: MetricResult}}` for the methods and metrics the options name."""
    masks = load_masks(args.mask, subject)
    specs = metric_specs(args, masks)
    options = _metric_options(args)
    results = {}
    for name in method_names(args, subject, settings):
        method = registry.find(name)
        function = method.load()
        arguments = {**method.report_arguments(subject, settings),
                     "batch_size": settings.batch_size}

        def compute(model, images, classes, _function=function, _arguments=arguments):
            return _function(model, images, classes, **_arguments)

        with blank.collected() as blanks:
            maps = compute(subject.model, subject.inputs, target)
        for index, reason in sorted(blanks.items()):
            inputs.warn(f"{method.title}: the map of {subject.names[index]} is blank, and scored "
                        f"as it is. {reason}")
        available = {"model": subject.model, "method": compute, "images": subject.inputs,
                     "maps": maps, "masks": masks, "target": target}
        # Maps of altered models or images (the randomization check's) may well be blank: that
        # is what some metrics measure, not a problem of the method's maps.
        with blank.collected():
            results[name] = {spec.name: evaluate_on(spec.name, available, options)
                             for spec in specs}
    return results


def table(results):
    """The scores as aligned text: a row per method, a column per metric (↑ higher is better,
    ↓ lower)."""
    metrics = list(next(iter(results.values())))
    header = ["method"] + [f"{name} {'↑' if registry.find_metric(name).higher_is_better else '↓'}"
                           for name in metrics]
    rows = [[method] + [f"{by_metric[name].score:.4f}" for name in metrics]
            for method, by_metric in results.items()]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) if i == 0 else cell.rjust(width)
                               for i, (cell, width) in enumerate(zip(row, widths)))
                     for row in [header, *rows])


def report(results, subject):
    """The JSON document: per method and metric, the score, the values per image and which way
    is better."""
    return {"images": list(subject.names),
            "methods": {method: {name: {"score": result.score,
                                        "values": np.asarray(result.values).tolist(),
                                        "higher_is_better": result.higher_is_better}
                                 for name, result in by_metric.items()}
                        for method, by_metric in results.items()}}


def command(args, subject, target, settings):
    results = scores(args, subject, target, settings)
    text = table(results)
    document = json.dumps(report(results, subject), indent=2) + "\n"
    table_file, data_file = find_command("evaluate").files
    return [(table_file, (text + "\n").encode("utf-8")),
            (data_file, document.encode("utf-8"))], text
