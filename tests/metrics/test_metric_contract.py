"""One contract for every faithfulness metric of the registry, on the maps of every attribution
method of the registry, on the demo model: `keras_vis.metrics.evaluate` runs it by name, and its
result is a `MetricResult` whose `score`, `values`, `higher_is_better` and `curve` agree with each
other, with the registry and with the metric's own names (`mean_auc`, `average_drop`, `mean`)."""

import numpy as np
import pytest
from helpers.state import assert_model_unchanged, model_state
from helpers.method_cases import CASES, call

from keras_vis import demo, registry
from keras_vis.metrics import MetricResult, evaluate, metric_options

# Work sizes, by option name, given to every metric that takes them.
FAST = {"steps": 3, "percentiles": (0.2, 0.6), "samples": 6, "grid": 4, "progress": False}
# The alias each result keeps for its score, where it has one.
ALIASES = {"deletion": "mean_auc", "insertion": "mean_auc", "road": "mean_auc",
           "average_drop": "average_drop", "mufidelity": "mean", "pointing_game": "mean",
           "energy_pointing": "mean"}


@pytest.fixture(scope="module")
def subject():
    """The demo model, two sample shapes with their labels and object masks, and the maps of every
    method of the registry for them (computed once)."""
    model = demo.load_model()
    images, labels, masks = demo.sample_shapes()
    images = images[:2].astype(np.float32)
    maps = {name: call(spec, model, images, labels[:2]) for name, spec in CASES.items()}
    return model, images, labels[:2], masks[:2], maps


def inputs_of(spec, model, method, images, labels, masks, maps):
    available = {"model": model, "images": images, "maps": maps, "masks": masks,
                 "target": labels,
                 "method": lambda m, x, t, **options: call(method, m, x, t, **options)}
    return {need: available[need] for need in spec.needs}


def fast_options(spec, model):
    taken = metric_options(spec.name)
    options = {name: value for name, value in FAST.items() if name in taken}
    if "layers" in taken:  # randomization: the top layer only
        options["layers"] = [model.layers[-1].name]
    return options


@pytest.mark.parametrize("method", sorted(CASES))
def test_every_metric_scores_the_maps_of_every_method(subject, method):
    model, images, labels, masks, all_maps = subject
    before = model_state(model)
    for spec in registry.METRICS:
        result = evaluate(spec.name, **inputs_of(spec, model, CASES[method], images, labels,
                                                   masks, all_maps[method]),
                          **fast_options(spec, model))
        assert isinstance(result, MetricResult), spec.name
        values = np.asarray(result.values)
        assert values.shape == (2,) and np.all(np.isfinite(values)), spec.name
        assert isinstance(result.score, float) and np.isfinite(result.score)
        assert result.score == pytest.approx(float(np.mean(values)), rel=1e-6, abs=1e-7)
        assert result.higher_is_better == spec.higher_is_better, spec.name
        if spec.name in ALIASES:
            assert getattr(result, ALIASES[spec.name]) == result.score
        if result.curve is not None:
            x, curves = result.curve
            assert curves.shape == (2, len(x)), spec.name
            assert np.all(np.isfinite(curves)) and np.all(np.diff(x) > 0), spec.name
    assert_model_unchanged(model, before)


def test_the_registry_and_the_package_name_the_same_metrics():
    import keras_vis.metrics as metrics

    for spec in registry.METRICS:
        assert spec.load() is getattr(metrics, spec.name)
        assert spec.name in metrics.__all__
        assert spec.title and spec.summary


def test_evaluate_on_gives_each_metric_what_it_reads_of_what_is_held(subject):
    from keras_vis.metrics.evaluate import evaluate_on

    model, images, labels, masks, maps = subject
    held = {"model": model, "images": images, "maps": maps["gradcam"], "masks": masks,
            "target": labels}
    shared = {"steps": 3, "tolerance": 2, "progress": False}
    pointing = evaluate_on("pointing_game", held, shared)
    assert pointing.score == evaluate("pointing_game", maps=maps["gradcam"], masks=masks,
                                      tolerance=2).score
    deletion = evaluate_on("deletion", held, shared)
    np.testing.assert_array_equal(
        deletion.values, evaluate("deletion", model=model, images=images, maps=maps["gradcam"],
                                  target=labels, steps=3, progress=False).values)
    with pytest.raises(ValueError, match="Received no method"):
        evaluate_on("randomization_check", held)


def test_a_metric_that_follows_no_curve_says_so(subject):
    model, images, labels, masks, maps = subject
    result = evaluate("pointing_game", maps=maps["gradcam"], masks=masks)
    assert result.curve is None
    np.testing.assert_array_equal(result.values, result.hits.astype(np.float32))


@pytest.mark.parametrize("call_options, error, message", [
    (dict(metric="deleton"), ValueError, "Did you mean 'deletion'"),
    (dict(metric=len), ValueError, "one of deletion"),
    (dict(metric="pointing_game", maps=np.ones((2, 64, 64))), ValueError, "Received no masks"),
    (dict(metric="pointing_game", maps=np.ones((2, 64, 64)), masks=np.ones((2, 64, 64)),
          target=[0, 1]), ValueError, "a target as well"),
    (dict(metric="energy_pointing", maps=np.ones((2, 64, 64)), masks=np.ones((2, 64, 64)),
          tolerance=1), TypeError, "Expected options of energy_pointing"),
    (dict(metric="pointing_game", maps=np.ones((2, 64, 64)), masks=np.ones((2, 64, 64)),
          tolerence=1), TypeError, "Did you mean `tolerance=`"),
], ids=["typo", "not a name", "missing input", "extra input", "unknown option", "option typo"])
def test_evaluate_refuses_what_the_metric_cannot_take(call_options, error, message):
    with pytest.raises(error, match=message):
        evaluate(**call_options)


def test_metrics_for_picks_what_the_held_inputs_allow_and_refuses_the_rest():
    from keras_vis.metrics.evaluate import metrics_for

    held = ("model", "images", "maps", "target")
    how = {"masks": "pass masks", "method": "name a method"}
    every = metrics_for(["all"], held, argument="--metric", how_to_give=how)
    assert every == tuple(spec for spec in registry.METRICS if set(spec.needs) <= set(held))
    assert "pointing_game" not in [spec.name for spec in every]
    named = metrics_for(["insertion", "deletion", "insertion"], held, argument="metrics",
                        how_to_give=how)
    assert [spec.name for spec in named] == ["insertion", "deletion"]
    with pytest.raises(ValueError, match="pointing_game reads object masks: pass masks, or pick "
                                         "another metric"):
        metrics_for(["deletion", "pointing_game"], held, argument="metrics", how_to_give=how)
    with pytest.raises(ValueError, match="randomization_check reads an attribution method: name"):
        metrics_for(["randomization_check"], held, argument="metrics", how_to_give=how)
    with pytest.raises(ValueError, match="at least one metric name"):
        metrics_for([], held, argument="metrics", how_to_give=how)
    with pytest.raises(ValueError, match="Did you mean 'deletion'"):
        metrics_for(["deleton"], held, argument="metrics", how_to_give=how)
