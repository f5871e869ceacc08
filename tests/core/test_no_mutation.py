"""No public function changes the user's model: not its weights, not a layer's activation, not a
`trainable` flag — neither when it succeeds nor when it fails half-way — and none writes to a
layer even for a moment: another thread using the model meanwhile sees it exactly as it is.

The functions are enumerated from the public API, so a newly exported function that takes a model
fails `test_every_public_function_that_takes_a_model_has_a_case` until it gets a case here.
"""

import dataclasses
import inspect
import pathlib
import threading

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_vis
from helpers.state import assert_model_unchanged, model_state
from keras_vis import callbacks as training_callbacks
from keras_vis import registry
from keras_vis.attribution import (
    cam,
    deeplift,
    gradcam,
    gradient_input,
    gradient_shap,
    guided_gradcam,
    integrated_gradients,
    lrp,
    occlusion,
    rise,
    saliency,
)
from keras_vis.atlas import activation_atlas
from keras_vis.dataset import explain_dataset
from keras_vis.explorer import serve
from keras_vis.layers import iter_layers
from keras_vis.deconv import deconvnet, receptive_field, top_activations
from keras_vis.inspect import feature_maps, filter_weights, layer_configs, layer_weights, summary
from keras_vis.layers import conv_layers, find_layer, last_conv_layer
from keras_vis.maximization import (
    callbacks,
    class_visualization,
    filter_visualization,
    invert,
    maximize,
    multiscale_visualization,
    objectives,
)
from keras_vis.report.settings import Settings
from keras_vis.metrics import randomization_check
from keras_vis.metrics.evaluate import evaluate_on
from helpers.explorer_client import get_json, request
from helpers.method_cases import CASES as METHOD_CASES, call
from helpers.models import cnn, custom_block_cnn, images, nested_cnn

pytestmark = pytest.mark.sweep

# Public functions that are given no model, so have none to change.
MODEL_FREE = {
    "apply_mask": "shows an image array through a mask",
    "Channel": "builds a one-term objective",
    "Neuron": "builds a one-term objective",
    "occlusion_mask": "thresholds a heatmap",
    "dataset_summary": "summarises maps already computed",
    "load_maps": "reads an output folder",
    "load_image": "reads an image file",
    "save_image": "writes an image file",
    "load_model": "creates a new model from a file or an application name",
    "deprocess": "turns rendered arrays into pictures",
}


def public_functions():
    """`{name: function}` for every public name that is a plain function (not a class or module)."""
    values = {name: getattr(keras_vis, name) for name in keras_vis.__all__}
    return {name: value for name, value in values.items() if inspect.isfunction(value)}


def takes_a_model(function):
    return next(iter(inspect.signature(function).parameters)) == "model"


@dataclasses.dataclass
class Subject:
    """A model with relu activations and a softmax head, and what the calls need."""

    model: keras.Model
    first_conv: str
    last_conv: str
    folder: pathlib.Path
    x: np.ndarray = dataclasses.field(default_factory=lambda: images(2))
    maps: np.ndarray = dataclasses.field(
        default_factory=lambda: np.random.default_rng(1).random((2, 16, 16)).astype(np.float32))
    # The calls that refuse this model with a clear error naming `refused_layer`.
    refuses: frozenset = frozenset()
    refused_layer: str = None


def scribbled(arrays):
    """Overwrites returned weight arrays in place: they must be copies, not the model's own."""
    for array in arrays:
        array[...] = 7.0
    return arrays


def explored(s):
    """The explorer over HTTP: methods that give layers other backward rules or a linear head,
    feature maps, the deconvnet, occlusion and a channel render on its background thread."""
    settings = Settings(maximize_steps=2, rise_masks=8, progress=False)
    with serve(s.model, s.x, port=0, block=False, warm_up=False, settings=settings) as server:
        for path in ("explanation?method=guided", "explanation?method=lrp",
                     "explanation?method=gradcam&class=1", f"features?layer={s.last_conv}",
                     f"deconv?layer={s.last_conv}", "occlusion"):
            status, _, body = request(f"{server.url}api/images/s0/{path}")
            if path.endswith("lrp") and "lrp" in s.refuses:
                assert status == 422 and s.refused_layer.encode() in body, body[:300]
                continue
            assert status == 200, body[:300]
        status, job = get_json(f"{server.url}api/maximize?layer={s.first_conv}&channel=0",
                               data=b"", method="POST")
        while job["state"] in ("queued", "running"):
            job = get_json(f"{server.url}api/jobs/{job['id']}")[1]
        assert job["state"] == "done", job


# One call per public function that takes a model, with the options that reach its most invasive
# path: linear heads (softmax dropped), guided and deconvnet ReLUs, relevance rules, a randomized
# clone, files.
CALLS = {
    "saliency": lambda s: saliency(s.model, s.x, method="guided", smooth_samples=2, seed=0),
    "gradient_input": lambda s: gradient_input(s.model, s.x),
    "lrp": lambda s: lrp(s.model, s.x, composite="epsilon_gamma_box"),
    "deeplift": lambda s: deeplift(s.model, s.x, baseline=0.5),
    "gradient_shap": lambda s: gradient_shap(s.model, s.x, samples=2, seed=0),
    "integrated_gradients": lambda s: integrated_gradients(s.model, s.x, steps=2),
    "cam": lambda s: cam(s.model, s.x, method="scorecam", max_maps=2),
    "gradcam": lambda s: gradcam(s.model, s.x, 1),
    "guided_gradcam": lambda s: guided_gradcam(s.model, s.x),
    "occlusion": lambda s: occlusion(s.model, s.x, patch=8, stride=8),
    "rise": lambda s: rise(s.model, s.x, masks=8, cell=4, seed=0),
    "maximize": lambda s: maximize(
        s.model, objectives.class_logit(1) + objectives.channel(s.last_conv, 0), steps=2,
        transforms=(), progress=False),
    "filter_visualization": lambda s: filter_visualization(
        s.model, s.first_conv, [0], size=16, crop=2, steps=2, progress=False),
    "multiscale_visualization": lambda s: multiscale_visualization(
        s.model, objectives.channel(s.first_conv, 0), size=8, steps=1, scales=2, progress=False),
    "class_visualization": lambda s: class_visualization(s.model, 1, steps=2, param="pixel",
                                                         transforms=(), progress=False),
    "invert": lambda s: invert(s.model, s.x, s.last_conv, steps=2, progress=False),
    "activation_atlas": lambda s: activation_atlas(
        s.model, s.x, s.last_conv, samples_per_image=4, grid=2, min_density=1, size=16, steps=2,
        method=lambda vectors: vectors[:, :2], seed=0, progress=False),
    "deconvnet": lambda s: deconvnet(s.model, s.x, s.last_conv),
    "top_activations": lambda s: top_activations(s.model, s.x, s.first_conv, [0, 1], k=1),
    "receptive_field": lambda s: receptive_field(s.model, s.last_conv),
    "explain_dataset": lambda s: explain_dataset(s.model, s.x, "guided", out_dir=s.folder,
                                                 progress=False),
    "summary": lambda s: summary(s.model),
    "layer_configs": lambda s: layer_configs(s.model),
    "layer_weights": lambda s: [scribbled(w) for w in layer_weights(s.model).values()],
    "filter_weights": lambda s: scribbled([filter_weights(s.model, s.first_conv)]),
    "feature_maps": lambda s: feature_maps(s.model, s.x, [s.first_conv, s.last_conv]),
    "find_layer": lambda s: find_layer(s.model, s.last_conv),
    "conv_layers": lambda s: conv_layers(s.model),
    "last_conv_layer": lambda s: last_conv_layer(s.model),
    "serve": explored,
}


def logged_epoch(callback, s):
    """What `fit` asks of a training callback around one epoch, without training."""
    callback.set_model(s.model)
    callback.set_params({"epochs": 1, "steps": 1, "verbose": 0})
    callback.on_train_begin()
    callback.on_epoch_end(0)
    callback.on_train_end()


# Every training callback of `keras_vis.callbacks` logging one epoch.
CALLBACKS = {
    "ExplainCallback": lambda s: training_callbacks.ExplainCallback(
        (s.x, [0, 1]), methods=("guided", "gradcam", "lrp"), log_dir=s.folder),
    "FeatureMapsCallback": lambda s: training_callbacks.FeatureMapsCallback(
        s.x, [s.first_conv, s.last_conv], log_dir=s.folder),
    "FiltersCallback": lambda s: training_callbacks.FiltersCallback(
        [s.first_conv, s.last_conv], log_dir=s.folder),
    "MaximizeCallback": lambda s: training_callbacks.MaximizeCallback(
        objectives.class_logit(1), log_dir=s.folder, steps=2, transforms=()),
    "FaithfulnessCallback": lambda s: training_callbacks.FaithfulnessCallback(
        s.x, s.maps > 0.5, methods=("guided",), log_dir=s.folder),
}
# Work sizes of the metrics run by name, by option name.
METRIC_FAST = {"steps": 2, "percentiles": (0.3, 0.6), "grid": 4, "samples": 4, "layers": 2,
               "progress": False}


def metric_by_name(spec, s):
    """The metric of `spec` run by `keras_vis.metrics.evaluate` on what it reads."""
    available = {"model": s.model, "method": "gradcam", "images": s.x, "maps": s.maps,
                 "masks": s.maps > 0.5}
    return evaluate_on(spec.name, available, METRIC_FAST)


# Every method and metric of the registry by name as well, with its own defaults: a newly
# registered method (a CAM variant, above all) or metric is checked without a case written for it.
EVERY = {**CALLS, **{f"method {name}": (lambda s, spec=spec: call(spec, s.model, s.x))
                     for name, spec in METHOD_CASES.items()},
         **{f"metric {spec.name}": (lambda s, spec=spec: metric_by_name(spec, s))
            for spec in registry.METRICS},
         **{f"callback {name}": (lambda s, make=make: logged_epoch(make(s), s))
            for name, make in CALLBACKS.items()},
         # Occlusion's incremental path runs the layers on regions, as stand-ins with other padding.
         "occlusion, incremental": lambda s: occlusion(s.model, s.x, patch=4, stride=2,
                                                       incremental=True, approximate=0.5)}


def test_every_training_callback_has_a_case():
    assert set(CALLBACKS) == {name for name in training_callbacks.__all__
                              if name.endswith("Callback")}


def test_every_public_function_that_takes_a_model_has_a_case():
    functions = public_functions()
    with_model = {name for name, function in functions.items() if takes_a_model(function)}
    # The registry's metrics are run by name, each one (`metric ...` in `EVERY`).
    metrics = {spec.name for spec in registry.METRICS}
    assert set(CALLS) == with_model - metrics
    assert not (with_model | metrics) & set(MODEL_FREE)
    assert set(functions) == with_model | metrics | set(MODEL_FREE), (
        "a new public function: add it to CALLS if it takes a model, else to MODEL_FREE")


# Every function runs on the flat model by default. On the nested and custom-block layouts these
# do: a pass of each kind (rectifier rules, relevance rules, an inner tap, incremental copies,
# masked copies, a render, the explorer, a training callback); the whole sweep of every layout
# with `-m slow`.
LAYOUT_DEFAULT = {"saliency", "lrp", "occlusion, incremental", "maximize", "feature_maps",
                  "serve", "method scorecam", "callback ExplainCallback"}


def pytest_generate_tests(metafunc):
    """The sweep's cases: every function on each layout, the rarer ones slow but on the flat
    model."""
    if "subject" not in metafunc.fixturenames or "name" not in metafunc.fixturenames:
        return
    cases = [pytest.param(kind, name, id=f"{kind}-{name}",
                          marks=[pytest.mark.slow] if kind != "flat"
                          and name not in LAYOUT_DEFAULT else [])
             for kind in ("flat", "nested", "custom block") for name in sorted(EVERY)]
    metafunc.parametrize(("subject", "name"), cases, indirect=["subject"])


@pytest.fixture
def subject(request, tmp_path):
    if request.param == "flat":
        return Subject(cnn(), "conv1", "conv2", tmp_path / "maps")
    if request.param == "custom block":
        # A custom layer whose `call` takes no `training` calls a layer defaulting to
        # `training=True`, then a BatchNorm-holding `Sequential`: only Keras' call context keeps
        # them in inference mode. No relevance rule covers it, and occlusion cannot run on a
        # region of it: those refuse, and must leave the model as it was all the same.
        refuses = frozenset({"lrp", "deeplift", "method lrp", "method deeplift",
                             "callback ExplainCallback", "occlusion, incremental"})
        return Subject(custom_block_cnn(), "conv1", "conv2", tmp_path / "maps",
                       refuses=refuses, refused_layer="stem")
    return Subject(nested_cnn(), "deep_conv1", "deep_conv2", tmp_path / "maps")


class LayerWrites:
    """Records every attribute assignment the current thread makes on the given layers."""

    def __init__(self, monkeypatch, model):
        self.watched = {id(layer) for layer in iter_layers(model)} | {id(model)}
        self.thread = threading.get_ident()
        self.writes = []
        original = keras.layers.Layer.__setattr__

        def recording(layer, name, value):
            if id(layer) in self.watched and threading.get_ident() == self.thread:
                self.writes.append(f"{layer.name}.{name}")
            original(layer, name, value)

        monkeypatch.setattr(keras.layers.Layer, "__setattr__", recording)


def attribute_identities(model):
    """`{(layer, attribute): id(value)}` over every layer: any rebinding shows."""
    return {(layer.name, name): id(value) for layer in [model, *iter_layers(model)]
            for name, value in vars(layer).items()}


class EagerCaller(threading.Thread):
    """Calls the model eagerly in a loop and keeps every output that differs from `expected`."""

    def __init__(self, model, x, expected):
        super().__init__(daemon=True)
        self.model, self.x, self.expected = model, x, expected
        self.stop, self.ready = threading.Event(), threading.Event()
        self.calls, self.wrong = 0, []

    def run(self):
        while not self.stop.is_set():
            output = self.model(self.x, training=False).numpy()
            self.calls += 1
            self.ready.set()
            if not np.allclose(output, self.expected, rtol=1e-5, atol=1e-6):
                self.wrong.append(output)


def test_public_function_changes_nothing_and_writes_no_layer_while_the_model_serves_a_thread(
        subject, name, monkeypatch):
    model = subject.model
    before = model_state(model)
    expected = model(subject.x, training=False).numpy()
    identities = attribute_identities(model)
    writes = LayerWrites(monkeypatch, model)
    caller = EagerCaller(model, subject.x, expected)
    caller.start()
    caller.ready.wait()
    try:
        if name in subject.refuses:
            with pytest.raises(ValueError, match=f"'{subject.refused_layer}'"):
                EVERY[name](subject)
        else:
            EVERY[name](subject)  # traces its compiled steps while the other thread runs it
    finally:
        caller.stop.set()
        caller.join()
    assert writes.writes == []
    assert attribute_identities(model) == identities
    assert caller.calls > 0
    assert not caller.wrong, f"{len(caller.wrong)} of {caller.calls} eager calls saw another model"
    assert_model_unchanged(model, before)
    np.testing.assert_array_equal(model(subject.x, training=False).numpy(), expected)


# --- failures half-way


class Failing:
    """A switch that makes the layers below raise inside their own `call`."""

    armed = None


class FailingConv2D(keras.layers.Conv2D):
    def call(self, inputs):
        if Failing.armed == self.name:
            raise RuntimeError(f"{self.name} failed")
        return super().call(inputs)


class FailingDense(keras.layers.Dense):
    def call(self, inputs):
        if Failing.armed == self.name:
            raise RuntimeError(f"{self.name} failed")
        return super().call(inputs)


@pytest.fixture
def failing_cnn():
    inputs = keras.Input((16, 16, 3))
    x = FailingConv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = FailingDense(3, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs, outputs, name="failing")
    yield model
    Failing.armed = None


@pytest.mark.parametrize("layer, call", [
    # the convolution runs as its linear part, its fused ReLU with a guided backward pass
    ("conv", lambda m: saliency(m, images(1), method="guided")),
    ("conv", lambda m: saliency(m, images(1), method="deconvnet")),
    ("conv", lambda m: deconvnet(m, images(1), "conv")),
    # the head runs without its softmax
    ("predictions", lambda m: gradcam(m, images(1), 1)),
    ("predictions", lambda m: maximize(m, objectives.class_logit(0), steps=1, progress=False)),
], ids=["guided saliency", "deconvnet saliency", "deconvnet", "linear head", "class logit"])
def test_a_layer_failing_while_it_runs_without_its_activation_leaves_it_as_it_was(
        failing_cnn, layer, call):
    before = model_state(failing_cnn)
    original = failing_cnn.get_layer(layer).activation
    Failing.armed = layer
    with pytest.raises(RuntimeError, match=f"{layer} failed"):
        call(failing_cnn)
    assert failing_cnn.get_layer(layer).activation is original
    assert_model_unchanged(failing_cnn, before)


class StopAtStep(callbacks.Callback):
    def on_step_end(self, state):
        if state.step == 2:
            raise KeyboardInterrupt


def failing_on_second_call(method):
    calls = []

    def explain(model, images, target=None, **options):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the method failed")
        return method(model, images, target, **options)

    return explain


def uneven_stream():
    """Two batches of images, the second of another size."""
    return tf.data.Dataset.from_generator(
        lambda: iter([images(2), images(1, size=12)]),
        output_signature=tf.TensorSpec((None, None, None, 3), tf.float32))


def raise_from_target(outputs):
    raise ValueError("the target failed after the forward pass")


LATE_FAILURES = [
    ("target raising after the forward pass",
     lambda m, folder: saliency(m, images(2), raise_from_target),
     ValueError, "after the forward pass"),
    ("bad baseline found after the images",
     lambda m, folder: integrated_gradients(m, images(2), baseline=np.zeros((5, 5))),
     ValueError, "baseline"),
    ("bad fill found after the images",
     lambda m, folder: occlusion(m, images(2), fill=[0.5, 0.5]),
     ValueError, "fill"),
    ("maximize interrupted at step 2",
     lambda m, folder: maximize(m, objectives.class_logit(2), steps=4, callbacks=[StopAtStep()],
                                progress=False),
     KeyboardInterrupt, None),
    ("top_activations on a stream whose second batch has another size",
     lambda m, folder: top_activations(m, uneven_stream(), "conv1", [0], k=1),
     ValueError, "Axis 1 has 12"),
    ("randomization_check whose method fails on the randomized copy",
     lambda m, folder: randomization_check(m, failing_on_second_call(gradcam), images(2)),
     RuntimeError, "the method failed"),
    ("explain_dataset whose method fails on the second shard",
     lambda m, folder: explain_dataset(m, images(2), failing_on_second_call(gradcam),
                                       out_dir=folder, batch_size=1, shard_size=1,
                                       progress=False),
     RuntimeError, "the method failed"),
]


@pytest.mark.parametrize("case", LATE_FAILURES, ids=[c[0] for c in LATE_FAILURES])
def test_a_failure_half_way_leaves_the_model_unchanged(tiny_cnn, tmp_path, case):
    _, call, error, pattern = case
    before = model_state(tiny_cnn)
    with pytest.raises(error, match=pattern):
        call(tiny_cnn, tmp_path / "maps")
    assert_model_unchanged(tiny_cnn, before)


def test_the_layer_by_layer_forward_equals_predict_through_a_custom_block():
    """keras_vis runs a model layer by layer; a custom layer whose `call` takes no `training`
    still gets inference mode for what it calls (its random flip stays the identity, its
    normalization uses the moving statistics), exactly as under `predict`."""
    from keras_vis.graph import GraphRunner

    model = custom_block_cnn()
    x = images(3)
    before = model_state(model)
    stem = model.get_layer("stem")
    expected = keras.Model(model.inputs, [model.output, stem.output]).predict(x, verbose=0)
    runner = GraphRunner(model, [stem], head="model")
    (outputs,), (tapped,) = tf.function(lambda t: runner([t]), autograph=False)(x)
    np.testing.assert_allclose(outputs.numpy(), expected[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tapped.numpy(), expected[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(feature_maps(model, x, ["stem"])["stem"], expected[1],
                               rtol=1e-5, atol=1e-6)
    gradcam(model, x)
    assert_model_unchanged(model, before)
