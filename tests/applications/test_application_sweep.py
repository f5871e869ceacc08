"""Every technique on every `keras.applications` family and on a transfer model with
`preprocess_input` inside: a finite map of the right shape, or a one-line `NotApplicable` the
report shows as a note. The default run covers a technique of each kind on the layer kinds the
other tests' networks lack (MobileNetV3's operation nodes, gates and squeeze-and-excitation); the
whole sweep, every technique on every family at the smallest input it accepts and on two transfer
models with `preprocess_input` inside, runs with `-m slow`."""

import keras
import numpy as np
import pytest
from helpers.method_cases import CASES, call

import keras_vis
from keras_vis import NotApplicable, rules

pytestmark = pytest.mark.applications

APPS = keras.applications

# Family -> (constructor, the smallest input side it accepts).
FAMILIES = {
    "VGG16": (APPS.VGG16, 32), "ResNet50": (APPS.ResNet50, 32),
    "ResNet50V2": (APPS.ResNet50V2, 32), "InceptionV3": (APPS.InceptionV3, 75),
    "InceptionResNetV2": (APPS.InceptionResNetV2, 75), "Xception": (APPS.Xception, 71),
    "MobileNet": (APPS.MobileNet, 32), "MobileNetV2": (APPS.MobileNetV2, 32),
    "MobileNetV3Small": (APPS.MobileNetV3Small, 32),
    "MobileNetV3Large": (APPS.MobileNetV3Large, 32), "DenseNet121": (APPS.DenseNet121, 32),
    "NASNetMobile": (APPS.NASNetMobile, 32), "EfficientNetB0": (APPS.EfficientNetB0, 32),
    "EfficientNetV2B0": (APPS.EfficientNetV2B0, 32), "ConvNeXtTiny": (APPS.ConvNeXtTiny, 32),
}
CLASSES = 5


def transfer(preprocess_module, base):
    """A classifier on a nested base, its `preprocess_input` written inside the model (the
    transfer-learning pattern): operation nodes before the base."""
    inputs = keras.Input((32, 32, 3))
    x = preprocess_module.preprocess_input(inputs)
    x = keras.layers.GlobalAveragePooling2D()(base(weights=None, include_top=False,
                                                    input_shape=(32, 32, 3))(x))
    return keras.Model(inputs, keras.layers.Dense(CLASSES, activation="softmax")(x))


BUILDERS = {
    **{name: (lambda build=build, size=size: build(weights=None, input_shape=(size, size, 3),
                                                   classes=CLASSES))
       for name, (build, size) in FAMILIES.items()},
    # "caffe" preprocessing: channels picked by slicing and stacked again, a mean added.
    "transfer ResNet50 + preprocess_input": lambda: transfer(APPS.resnet50, APPS.ResNet50),
    # "tf" preprocessing: `x / 127.5 - 1`.
    "transfer MobileNetV2 + preprocess_input": lambda: transfer(APPS.mobilenet_v2,
                                                                APPS.MobileNetV2),
}
DEFAULT = {"MobileNetV3Small"}


@pytest.fixture(scope="module")
def built():
    cache = {}

    def get(name):
        if name not in cache:
            keras.backend.clear_session()
            keras.utils.set_random_seed(0)
            cache.clear()  # one model at a time: the whole sweep would not fit in memory
            model = BUILDERS[name]()
            size = model.inputs[0].shape[1]
            images = np.random.default_rng(0).uniform(0, 255, (2, size, size, 3))
            cache[name] = (model, images.astype(np.float32))
        return cache[name]

    return get


def finite_or_refused(run, size):
    """`run()`'s maps are finite and `(2, size, size)`, or it refused with `NotApplicable`."""
    try:
        maps = np.asarray(run())
    except NotApplicable as refusal:
        assert "\n" not in str(refusal)
        return "refused"
    assert maps.shape == (2, size, size) and maps.dtype == np.float32
    assert np.all(np.isfinite(maps))
    return "drawn"


# The default run: a technique of each kind that reads the layers differently.
SHORT = {"method gradcam", "lrp epsilon_plus_flat", "deeplift", "occlusion"}


def jobs(model, images, short=False):
    """Every registry method (with small work sizes), LRP with each named composite, DeepLIFT
    and occlusion with their defaults; with `short`, those of `SHORT`."""
    found = {f"method {name}": (lambda spec=spec: call(spec, model, images, [0, 3]))
             for name, spec in CASES.items()}
    found.update({f"lrp {composite}": (lambda composite=composite: keras_vis.lrp(
        model, images, [0, 3], composite=composite)) for composite in rules.COMPOSITES})
    found["deeplift"] = lambda: keras_vis.deeplift(model, images, [0, 3])
    found["occlusion"] = lambda: keras_vis.occlusion(model, images, [0, 3], progress=False)
    return {job: run for job, run in found.items() if not short or job in SHORT}


@pytest.mark.filterwarnings("ignore::keras_vis.BlankMapWarning")
@pytest.mark.parametrize("every", [pytest.param(True, marks=pytest.mark.slow), False],
                         ids=["every technique", "one of each kind"])
@pytest.mark.parametrize("name", [name if name in DEFAULT else pytest.param(
    name, marks=pytest.mark.slow) for name in BUILDERS])
def test_every_technique_draws_or_refuses_in_one_line(name, every, built):
    model, images = built(name)
    size = images.shape[1]
    outcomes = {job: finite_or_refused(run, size)
                for job, run in jobs(model, images, short=not every).items()}
    # Only classic CAM may refuse, and only a model whose head is not pooling and one dense layer.
    refused = sorted(job for job, outcome in outcomes.items() if outcome == "refused")
    assert refused in ([], ["method cam"]), refused


@pytest.mark.slow
@pytest.mark.parametrize("application", ["mobilenetv3small", "convnexttiny"])
def test_the_report_of_a_modern_network_draws_or_notes_every_panel(application, tmp_path):
    from keras_vis.cli import main

    out = tmp_path / application
    code = main(["report", "--model", application, "--weights", "none", "--out", str(out),
                 "--quiet", "--steps", "2", "--class-steps", "2", "--filters", "2",
                 "--smooth-samples", "2", "--ig-steps", "2", "--shap-samples", "2",
                 "--score-cam-maps", "4", "--rise-masks", "16"])
    assert code == 0
    text = (out / "report.html").read_text(encoding="utf-8")
    for section in ("model", "filters", "features", "maximization", "explanations", "notes"):
        assert f'<section id="{section}">' in text
    notes = text[text.index('<section id="notes">'):]
    # Classic CAM needs a pooling → dense head these networks do not have: it is noted, with
    # the method to use instead; every other panel is drawn.
    assert notes.count("was not drawn") == 1 and "CAM was not drawn" in notes
