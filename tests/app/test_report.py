"""The HTML report: self-contained, every picture a valid PNG that shows what its title says,
written atomically, and rendered by a real headless browser with every image decoded."""

import base64
import dataclasses
import html.parser
import os
import re
import shutil
import subprocess

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers.models import gap_cnn
from keras_vis import plot, registry
from keras_vis.atlas import activation_atlas
from keras_vis.report import PANELS, STEPS, Settings, build_report, make_subject, report, techniques
from keras_vis.report.methods import METHODS
from keras_vis.report.pictures import enlarge

SIZE = 16
DISPLAY = 64  # 16-pixel inputs are drawn 4× larger
SETTINGS = Settings(display_size=DISPLAY, max_filters=4, feature_channels=3, maximize_filters=2,
                    maximize_steps=2, class_steps=2, max_classes=2, smooth_samples=2, ig_steps=2,
                    score_cam_maps=4, occlusion_patch=4, occlusion_stride=4, progress=False)
SECTIONS = ("model", "filters", "features", "maximization", "explanations", "notes")


def cam_model():
    """16×16×3 → conv(relu) → pool → conv(relu) → GAP → Dense(3, softmax)."""
    keras.utils.set_random_seed(3)
    return gap_cnn("tiny_cam")


class Figures(html.parser.HTMLParser):
    """Collects `(article id, img attributes)` for every image, and every tag and section id."""

    def __init__(self):
        super().__init__()
        self.images, self.sections, self.tags = [], [], set()
        self._article = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.add(tag)
        if tag == "article":
            self._article = attrs.get("id")
        elif tag == "section":
            self.sections.append(attrs.get("id"))
        elif tag == "img":
            self.images.append((self._article, attrs))

    def handle_endtag(self, tag):
        if tag == "article":
            self._article = None


def decode(src):
    assert src.startswith("data:image/png;base64,"), src[:40]
    data = base64.b64decode(src.split(",", 1)[1], validate=True)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    model = cam_model()
    pictures = np.random.default_rng(0).integers(0, 256, (2, SIZE, SIZE, 3), dtype=np.uint8)
    path = tmp_path_factory.mktemp("report") / "nested" / "report.html"
    written = report(model, pictures, path=path, names=["first", "second"],
                     class_names=["a", "b", "c"], settings=SETTINGS)
    parsed = Figures()
    text = path.read_text(encoding="utf-8")
    parsed.feed(text)
    return {"model": model, "pictures": pictures, "path": path, "written": written, "html": text,
            "parsed": parsed}


def test_every_image_is_an_embedded_png_of_the_stated_size(built):
    images = built["parsed"].images
    assert built["written"] == built["path"]
    assert len(images) > 30
    for _, attrs in images:
        decoded = decode(attrs["src"])
        assert decoded.shape[:2] == (int(attrs["height"]), int(attrs["width"]))
        assert decoded.std() > 0, f"blank picture: {attrs['alt']}"


def test_page_is_self_contained_with_every_section(built):
    text, parsed = built["html"], built["parsed"]
    assert parsed.sections == list(SECTIONS)
    assert not {"script", "link", "iframe", "object", "embed"} & parsed.tags
    assert not re.search(r"(src|href)=\"(?!data:|#)", text), "a resource outside the page"
    assert "url(" not in text and "@import" not in text
    for layer in ("conv1", "pool1", "conv2", "gap", "predictions"):
        assert f">{layer}<" in text  # the layer table lists every layer


def test_each_image_shows_every_method(built):
    images = built["parsed"].images
    for article in ("image-first", "image-second"):
        titles = [attrs["alt"] for where, attrs in images if where == article]
        expected = ["Input"]
        for family in registry.FAMILIES:  # a family's method drawn apart comes first
            expected += ["Occlusion", "Occlusion mask"] if family.apart == "occlusion" else []
            expected += [m.title for m in METHODS if m.family == family.name]
        assert titles == expected + ["Deconvnet conv1", "Deconvnet conv2"]


def _shown(built, article, title):
    (src,) = [attrs["src"] for where, attrs in built["parsed"].images
              if where == article and attrs["alt"] == title]
    return decode(src)


def test_input_picture_is_the_image_enlarged(built):
    shown = _shown(built, "image-second", "Input")
    enlarged = np.kron(built["pictures"][1], np.ones((4, 4, 1), np.uint8))
    np.testing.assert_array_equal(shown, enlarged)


def test_gradcam_picture_matches_a_hand_written_gradcam(built):
    """The Grad-CAM shown equals ReLU(sum_k mean(dlogit/dA_k) A_k) of the last convolution, from a
    plain GradientTape on the model's own layers, upsampled and drawn over the image."""
    model, pictures = built["model"], built["pictures"]
    conv_part = keras.Model(model.inputs, model.get_layer("conv2").output)
    dense = model.get_layer("predictions")
    inputs = tf.constant(pictures.astype(np.float32))
    with tf.GradientTape() as tape:
        activations = conv_part(inputs)
        tape.watch(activations)
        logits = tf.reduce_mean(activations, axis=(1, 2)) @ dense.kernel + dense.bias
        predicted = tf.argmax(logits, axis=1)
        score = tf.reduce_sum(tf.gather(logits, predicted, axis=1, batch_dims=1))
    gradients = tape.gradient(score, activations)
    weights = tf.reduce_mean(gradients, axis=(1, 2), keepdims=True)
    maps = tf.nn.relu(tf.reduce_sum(weights * activations, axis=-1))
    maps = tf.image.resize(maps[..., None], (SIZE, SIZE), method="bilinear")[..., 0].numpy()
    for index, article in enumerate(("image-first", "image-second")):
        heatmap = maps[index] / maps[index].max()
        expected = plot.overlay(enlarge(pictures[index], DISPLAY), heatmap, cmap="jet", alpha=0.45)
        shown = _shown(built, article, "Grad-CAM")
        assert np.abs(shown.astype(int) - expected.astype(int)).max() <= 2


def test_classic_cam_is_skipped_with_a_note_on_a_model_without_global_pooling():
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Conv2D(2, 3, activation="relu", name="conv")(inputs)
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(x))
    model = keras.Model(inputs, outputs)
    subject = make_subject(model, np.zeros((1, SIZE, SIZE, 3), np.uint8))
    pictures, skipped = techniques.attribution_pictures(subject, SETTINGS, None, ["cam", "gradcam"])
    assert [p.title for p in pictures] == ["Grad-CAM"]
    assert len(skipped) == 1 and skipped[0][0] == "CAM"
    assert "global average pooling" in skipped[0][1]


def test_a_failing_report_leaves_the_previous_file_untouched(built, tmp_path, monkeypatch):
    path = tmp_path / "report.html"
    path.write_text("previous report", encoding="utf-8")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(techniques, "deconv_pictures", interrupted)
    with pytest.raises(KeyboardInterrupt):
        report(built["model"], built["pictures"], path=path, settings=SETTINGS)
    assert path.read_text(encoding="utf-8") == "previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_bad_arguments_raise_clear_errors(built):
    model = built["model"]
    with pytest.raises(ValueError, match="pictures of shape"):
        make_subject(model, np.zeros((1, 8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        make_subject(model, np.full((1, SIZE, SIZE, 3), 200.0, np.float32))
    with pytest.raises(ValueError, match="2 names"):
        make_subject(model, np.zeros((2, SIZE, SIZE, 3), np.uint8), names=["only one"])
    with pytest.raises(TypeError, match="preprocess"):
        make_subject(model, np.zeros((1, SIZE, SIZE, 3), np.uint8), preprocess="vgg16")
    with pytest.raises(ValueError, match="maximize_steps"):
        Settings(maximize_steps=0)


class RecordedProgress:
    """A progress display that records the steps announced."""

    live = False

    def __init__(self):
        self.steps = []

    def step(self, label):
        self.steps.append(label)

    def finish(self):
        self.steps.append("finished")


def test_the_panels_announce_their_steps_in_page_order(built):
    recorded = RecordedProgress()
    subject = make_subject(built["model"], built["pictures"][:1])
    build_report(subject, settings=SETTINGS, progress=recorded)
    assert recorded.steps == [step for step in STEPS if step != "activation atlas"] + ["finished"]
    assert STEPS[:4] == ("layer table", "filters", "feature maps", "activation maximization")
    assert STEPS[-1] == "deconvnet" and "activation atlas" in STEPS


def test_an_atlas_gets_a_section_of_its_own(built, tmp_path):
    model, pictures = built["model"], built["pictures"]
    atlas = activation_atlas(model, np.random.default_rng(1).uniform(0, 255, (8, SIZE, SIZE, 3)),
                             "conv2", grid=3, min_density=1, size=16, steps=2, seed=0,
                             method=lambda vectors: vectors[:, :2], progress=False)
    path = atlas.save(tmp_path / "atlas.npz")
    written = report(model, pictures, path=tmp_path / "with_atlas.html", atlas=path,
                     settings=SETTINGS)
    parsed = Figures()
    text = written.read_text(encoding="utf-8")
    parsed.feed(text)
    assert parsed.sections == ["model", "filters", "features", "maximization", "atlas",
                               "explanations", "notes"] == [panel.anchor for panel in PANELS]
    assert '<a href="#atlas">Activation atlas</a>' in text
    (drawn,) = [attrs for _, attrs in parsed.images if attrs["alt"].startswith("Activation atlas")]
    assert decode(drawn["src"]).std() > 0
    assert '<a href="#atlas">' not in built["html"]  # no atlas given, no section
    with pytest.raises(ValueError, match="layer 'conv2'"):
        report(keras.Sequential([keras.Input((SIZE, SIZE, 3)), keras.layers.Conv2D(2, 3)]),
               pictures, path=tmp_path / "other.html", atlas=atlas, settings=SETTINGS)
    assert not (tmp_path / "other.html").exists()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars"]
# Counts the images the browser decoded, once the page has loaded, into the document title.
COUNT_DECODED = ("<script>window.addEventListener('load', () => { const all = [...document.images];"
                 " document.title = 'decoded ' + all.filter(i => i.complete && i.naturalWidth > 0)"
                 ".length + ' of ' + all.length; });</script>")


def _chromium(tmp_path, *arguments):
    command = [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.browser
@pytest.mark.subprocess
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_browser_decodes_every_image_and_draws_a_page(built, tmp_path):
    probe = tmp_path / "probe.html"
    probe.write_text(built["html"].replace("</body>", COUNT_DECODED + "</body>"), encoding="utf-8")
    dom = _chromium(tmp_path, "--virtual-time-budget=10000", "--dump-dom", probe.as_uri())
    count = len(built["parsed"].images)
    assert f"<title>decoded {count} of {count}</title>" in dom.stdout, dom.stderr[-2000:]

    screenshot = tmp_path / "page.png"
    _chromium(tmp_path, f"--screenshot={screenshot}", "--window-size=1280,2000",
              built["path"].as_uri())
    shot = cv2.imread(os.fspath(screenshot), cv2.IMREAD_COLOR)
    assert shot is not None and shot.shape[:2] == (2000, 1280)
    colours = np.unique(shot.reshape(-1, 3), axis=0)
    assert shot.std() > 20 and len(colours) > 1000, "the page rendered blank"


@pytest.mark.slow  # every technique of the report once more (15 s); `make gallery` runs it too
def test_gallery_writes_every_picture(tmp_path, monkeypatch):
    from keras_vis.demo import gallery

    monkeypatch.setattr(gallery, "SETTINGS", Settings(
        display_size=64, maximize_filters=2, maximize_steps=2, class_steps=2, smooth_samples=2,
        ig_steps=2, shap_samples=2, score_cam_maps=4, progress=False))
    assert gallery.main([str(tmp_path)]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(["filters.png", "feature_maps.png", "maximize_channels.png",
                            "maximize_classes.png", "saliency.png", "cam.png",
                            "relevance.png", "occlusion_deconvnet.png", "atlas.png"])
    for name in names:
        image = cv2.imread(os.fspath(tmp_path / name), cv2.IMREAD_COLOR)
        assert image is not None and image.std() > 0


def lambda_cam_model():
    """`cam_model` with a `Lambda` (x · 2) after its last convolution: no relevance rule covers
    it, every other technique runs."""
    keras.utils.set_random_seed(3)
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.Lambda(lambda t: t * 2.0, name="double")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="with_lambda")


def test_a_method_that_cannot_run_becomes_a_note_and_the_rest_is_drawn(tmp_path):
    pictures = np.random.default_rng(0).integers(0, 256, (1, SIZE, SIZE, 3), dtype=np.uint8)
    path = report(lambda_cam_model(), pictures, path=tmp_path / "report.html",
                  settings=SETTINGS)
    text = path.read_text(encoding="utf-8")
    parsed = Figures()
    parsed.feed(text)
    titles = {attrs["alt"] for _, attrs in parsed.images}
    assert "LRP" not in titles and "DeepLIFT" not in titles
    assert {"Grad-CAM", "Guided backprop", "Occlusion", "RISE", "Deconvnet conv2"} <= titles
    notes = text[text.index('<section id="notes">'):]
    for title in ("LRP", "DeepLIFT"):
        assert f"{title} was not drawn: Expected every layer" in notes
    assert "rules={&#x27;double&#x27;: &#x27;elementwise&#x27;}" in notes


def test_a_panel_failing_inside_its_computation_is_noted_in_place(built, tmp_path, monkeypatch):
    def failing(*args, **kwargs):
        raise RuntimeError("the feature maps could not be computed")

    monkeypatch.setattr(techniques, "feature_pictures", failing)
    path = report(built["model"], built["pictures"], path=tmp_path / "report.html",
                  settings=SETTINGS)
    text = path.read_text(encoding="utf-8")
    features = text[text.index('<section id="features">'):text.index('<section id="maximization">')]
    sentence = "Feature maps was not drawn: RuntimeError: the feature maps could not be computed"
    assert f'<p class="note">{sentence}' in features and "<img" not in features
    assert sentence in text[text.index('<section id="notes">'):]
    assert '<section id="explanations">' in text


def test_a_layer_the_settings_name_is_checked_before_any_work(built, tmp_path, monkeypatch):
    monkeypatch.setattr(techniques, "filter_pictures", lambda *a: pytest.fail("work was done"))
    with pytest.raises(ValueError, match="conv2"):
        report(built["model"], built["pictures"], path=tmp_path / "report.html",
               settings=dataclasses.replace(SETTINGS, deconv_layers=("conv3",)))
    assert not (tmp_path / "report.html").exists()


def test_a_binary_classifier_is_described_by_its_two_labels():
    keras.utils.set_random_seed(3)
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(2, 3, name="conv")(inputs))
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid", name="cat")(x))
    pictures = np.random.default_rng(0).integers(0, 256, (2, SIZE, SIZE, 3), dtype=np.uint8)
    subject = make_subject(model, pictures, class_names=["cat"])
    assert subject.binary and subject.class_description == "binary: “cat” or not"
    probability = float(model.predict(subject.inputs[:1], verbose=0)[0, 0])
    top = subject.top_classes(0)
    assert {name for name, _ in top} == {"cat", "not cat"}
    assert top[0][1] == max(probability, 1 - probability)
    assert techniques.input_picture(subject, SETTINGS, 0).detail.startswith(top[0][0])
