"""The training callbacks log what keras_vis computes on the model as it is at each logged epoch,
read back with TensorBoard's own event reader, and leave the training exactly as it would be."""

import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_vis
from helpers.state import model_state
from keras_vis import registry, steps
from keras_vis.callbacks import (
    RUN,
    ExplainCallback,
    FaithfulnessCallback,
    FeatureMapsCallback,
    FiltersCallback,
    MaximizeCallback,
    run_dir,
)
from keras_vis.maximization import objectives
from keras_vis.metrics import average_drop, deletion, insertion
from keras_vis.plot import overlay
from keras_vis.report.pictures import enlarge
from helpers.models import CLASSES, SIZE, cnn, images

TRACES = []


class CountingModel(keras.Model):
    """A functional model that records each trace of its train step."""

    def train_step(self, data):
        TRACES.append(1)
        return super().train_step(data)


def trainable_cnn():
    """`models.cnn`, compiled, counting its train step's traces."""
    plain = cnn()
    model = CountingModel(plain.inputs, plain.outputs, name="trained")
    model.compile(keras.optimizers.Adam(0.05), "sparse_categorical_crossentropy")
    return model


def data():
    x = images(24)
    y = np.arange(24) % CLASSES
    return x, y


def train(model, callbacks, epochs=2):
    x, y = data()
    TRACES.clear()
    model.fit(x, y, epochs=epochs, batch_size=8, shuffle=False, verbose=0, callbacks=callbacks)
    return len(TRACES)


def events(log_dir):
    """`{tag: {step: value}}`: decoded uint8 images `(K, H, W, C)` or float scalars."""
    found = {}
    for path in sorted(pathlib.Path(run_dir(log_dir)).glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                tensor = tf.make_ndarray(value.tensor)
                if value.metadata.plugin_data.plugin_name == "images":
                    width, height = int(tensor[0]), int(tensor[1])
                    decoded = np.stack([tf.io.decode_png(png).numpy() for png in tensor[2:]])
                    assert decoded.shape[1:3] == (height, width)
                    found.setdefault(value.tag, {})[event.step] = decoded
                else:
                    found.setdefault(value.tag, {})[event.step] = float(tensor)
    return found


class TraceCounts(keras.callbacks.Callback):
    """The package's trace count for the model at the end of each epoch (after the others)."""

    def __init__(self):
        super().__init__()
        self.counts = []

    def on_epoch_end(self, epoch, logs=None):
        self.counts.append(steps.trace_count(self.model))


def every_callback(log_dir):
    x, y = data()
    masks = np.zeros((4, SIZE, SIZE), bool)
    masks[:, 4:12, 4:12] = True
    return [
        ExplainCallback((x[:4], y[:4]), methods=("gradcam", "vanilla", "lrp"), log_dir=log_dir),
        FeatureMapsCallback(x[:2], ["conv1", "conv2"], log_dir=log_dir, max_channels=4),
        FiltersCallback(["conv1", "conv2"], log_dir=log_dir),
        MaximizeCallback(objectives.channel("conv2", range(3)), log_dir=log_dir, every=1, steps=3,
                         transforms=()),
        FaithfulnessCallback(x[:4], masks, log_dir=log_dir),
        FaithfulnessCallback(x[:4], y[:4], methods=("vanilla",), log_dir=log_dir, steps=4),
        FaithfulnessCallback(x[:2], y[:2], methods=("gradcam",), log_dir=log_dir, steps=3,
                             metrics=("insertion", "average_drop")),
    ]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A model trained 2 epochs with every callback and Keras' TensorBoard, its logs read back,
    the package's trace counts per epoch, and the train step's trace count."""
    keras.utils.set_random_seed(0)
    log_dir = tmp_path_factory.mktemp("logs")
    model = trainable_cnn()
    counts = TraceCounts()
    train_traces = train(model, [keras.callbacks.TensorBoard(log_dir), *every_callback(log_dir),
                                 counts])
    return model, log_dir, events(log_dir), counts.counts, train_traces


def test_every_callback_logs_its_tags_at_every_epoch(trained):
    _, log_dir, logged, _, _ = trained
    assert set(logged) == {
        "explain/gradcam", "explain/vanilla", "explain/lrp",
        "feature_maps/conv1", "feature_maps/conv2", "filters/conv1", "filters/conv2",
        "maximize/channel('conv2', [0, 1, 2])",
        "faithfulness/gradcam/pointing_game", "faithfulness/gradcam/energy_pointing",
        "faithfulness/vanilla/deletion", "faithfulness/gradcam/insertion",
        "faithfulness/gradcam/average_drop"}
    assert all(set(by_step) == {0, 1} for by_step in logged.values())
    # Beside the runs of keras.callbacks.TensorBoard: one board shows both.
    assert sorted(path.name for path in pathlib.Path(log_dir).iterdir()) == sorted(["train", RUN])


def test_logged_pictures_have_the_documented_sizes(trained):
    _, _, logged, _, _ = trained
    for method in ("gradcam", "vanilla", "lrp"):  # 16² inputs enlarged 8× to 128²
        assert logged[f"explain/{method}"][1].shape == (4, 128, 128, 3)
    # 2 images; 4 channels of 16² (conv1) and 8² (conv2) maps, each enlarged to 32², 2 px apart.
    assert logged["feature_maps/conv1"][0].shape == (2, 66, 66, 3)
    assert logged["feature_maps/conv2"][0].shape == (2, 66, 66, 3)
    # conv1: 4 colour 3×3 kernels enlarged to 33²; conv2: 6 grey mosaics of 2×2 channels (7²).
    assert logged["filters/conv1"][0].shape == (1, 68, 68, 3)
    assert logged["filters/conv2"][0].shape == (1, 2 * 35 + 2, 3 * 35 + 4, 3)
    # 3 renders of 16², enlarged to 32², in a 2×2 grid.
    assert logged["maximize/channel('conv2', [0, 1, 2])"][0].shape == (1, 66, 66, 3)


def test_the_grad_cam_logged_at_the_last_epoch_is_keras_vis_gradcam_on_the_trained_model(trained):
    model, _, logged, _, _ = trained
    x, y = data()
    maps = keras_vis.gradcam(model, x[:4], y[:4])
    drawing = registry.find("gradcam").drawing
    expected = np.stack([
        overlay(enlarge(np.round(image * 255).astype(np.uint8), 128), heatmap,
                cmap=drawing.cmap, alpha=drawing.alpha)
        for image, heatmap in zip(x[:4], maps)])
    np.testing.assert_array_equal(logged["explain/gradcam"][1], expected)
    assert not np.array_equal(logged["explain/gradcam"][0], logged["explain/gradcam"][1])


def test_the_logged_filters_follow_the_weights(trained):
    model, _, logged, _, _ = trained
    first = logged["filters/conv1"]
    assert not np.array_equal(first[0], first[1])
    # The last log is the trained kernels: tile 0 is kernel 0 rescaled to [0, 1], enlarged 11×.
    kernel = model.get_layer("conv1").kernel.numpy()[..., 0]
    scaled = (kernel - kernel.min()) / (kernel.max() - kernel.min())
    tile = enlarge(np.round(scaled * 255).astype(np.uint8), 32)
    np.testing.assert_array_equal(first[1][0, :33, :33], tile)


def test_the_scores_logged_are_the_metrics_on_the_trained_model(trained):
    model, _, logged, _, _ = trained
    x, y = data()
    maps = np.abs(keras_vis.saliency(model, x[:4], y[:4]))
    expected = deletion(model, x[:4], maps, y[:4], steps=4, progress=False).mean_auc
    assert logged["faithfulness/vanilla/deletion"][1] == pytest.approx(expected, rel=1e-5)
    assert 0.0 <= logged["faithfulness/gradcam/pointing_game"][1] <= 1.0
    maps = keras_vis.gradcam(model, x[:2], y[:2])
    expected = insertion(model, x[:2], maps, y[:2], steps=3, progress=False).mean_auc
    assert logged["faithfulness/gradcam/insertion"][1] == pytest.approx(expected, rel=1e-5)
    expected = average_drop(model, x[:2], maps, y[:2], progress=False).average_drop
    assert logged["faithfulness/gradcam/average_drop"][1] == pytest.approx(expected, rel=1e-5)


def test_the_callbacks_compile_once_and_never_retrace_the_train_step(trained, tmp_path):
    _, _, _, counts, train_traces = trained
    assert counts[0] > 0 and counts[1] == counts[0]  # epoch 2 reused every compiled step
    keras.utils.set_random_seed(0)
    assert train(trainable_cnn(), []) == train_traces


def test_training_with_the_callbacks_ends_with_the_same_weights_as_without(tmp_path):
    keras.utils.set_random_seed(0)
    alone = trainable_cnn()
    train(alone, [])
    keras.utils.set_random_seed(0)
    watched = trainable_cnn()
    train(watched, every_callback(tmp_path))
    for a, b in zip(model_state(alone)["weights"], model_state(watched)["weights"]):
        np.testing.assert_array_equal(a, b)


def test_masks_over_the_whole_image_make_every_map_a_hit(tmp_path):
    x, _ = data()
    model = trainable_cnn()
    everywhere = np.ones((3, SIZE, SIZE), bool)
    train(model, [FaithfulnessCallback(x[:3], everywhere, methods=("gradcam", "lrp"),
                                       log_dir=tmp_path)], epochs=1)
    logged = events(tmp_path)
    for method in ("gradcam", "lrp"):
        assert logged[f"faithfulness/{method}/pointing_game"][0] == 1.0
        assert logged[f"faithfulness/{method}/energy_pointing"][0] == pytest.approx(1.0)


@pytest.mark.parametrize("epochs, every, logged_steps", [(3, 2, {0, 2}), (4, 2, {0, 2, 3}),
                                                          (1, 5, {0})])
def test_every_logs_the_first_epoch_each_every_th_and_the_last(tmp_path, epochs, every,
                                                               logged_steps):
    train(trainable_cnn(), [FiltersCallback("conv1", log_dir=tmp_path, every=every)], epochs)
    assert set(events(tmp_path)["filters/conv1"]) == logged_steps


def test_a_dataset_with_one_hot_labels_explains_the_labelled_classes(tmp_path):
    x, y = data()
    one_hot = keras.utils.to_categorical(y, CLASSES)
    dataset = tf.data.Dataset.from_tensor_slices((x, one_hot)).batch(5)
    model = trainable_cnn()
    train(model, [ExplainCallback(dataset, max_images=7, display_size=None, log_dir=tmp_path)],
          epochs=1)
    logged = events(tmp_path)["explain/gradcam"][0]
    maps = keras_vis.gradcam(model, x[:7], y[:7])
    expected = np.stack([overlay(image, heatmap, cmap="jet", alpha=0.45)
                         for image, heatmap in zip(x[:7], maps)])
    np.testing.assert_array_equal(logged, expected)


def test_options_go_to_the_methods_that_take_them(tmp_path):
    x, _ = data()
    model = trainable_cnn()
    callback = ExplainCallback(x[:2], methods=("gradcam", "vanilla"), layer="conv1",
                               smooth_samples=2, display_size=None, log_dir=tmp_path)
    train(model, [callback], epochs=1)
    logged = events(tmp_path)
    conv1 = keras_vis.gradcam(model, x[:2], layer="conv1")
    np.testing.assert_array_equal(logged["explain/gradcam"][0][0],
                                  overlay(x[0], conv1[0], cmap="jet", alpha=0.45))


@pytest.mark.parametrize("make, message", [
    (lambda d: ExplainCallback(images(2), methods=("gradcma",), log_dir=d), "Known names"),
    (lambda d: ExplainCallback(images(2), methods=(), log_dir=d), "at least one method"),
    (lambda d: ExplainCallback(images(2), smoth_samples=2, log_dir=d), "smoth_samples"),
    (lambda d: ExplainCallback(images(2)[0], log_dir=d), r"\(N, H, W, C\)"),
    (lambda d: ExplainCallback((images(2), [0, 1, 2]), log_dir=d), "2 class indices"),
    (lambda d: ExplainCallback(images(2), log_dir=None), "log_dir"),
    (lambda d: ExplainCallback(images(2), log_dir=d, every=0), "every"),
    (lambda d: FeatureMapsCallback(images(2), [], log_dir=d), "at least one layer"),
    (lambda d: MaximizeCallback("conv2", log_dir=d), "objective"),
    (lambda d: MaximizeCallback(1, log_dir=d, progress=True), "progress"),
    (lambda d: MaximizeCallback(1, log_dir=d, sise=8), "sise"),
    (lambda d: FaithfulnessCallback(images(2), np.ones((2, 8, 8)), log_dir=d), "masks"),
    (lambda d: FaithfulnessCallback(images(2), [0, 1], metrics="pointing_game", log_dir=d),
     "pointing_game reads object masks: pass masks as `masks_or_labels`"),
    (lambda d: FaithfulnessCallback(images(2), [0, 1], metrics="deleton", log_dir=d),
     "Did you mean 'deletion'"),
], ids=["unknown method", "no method", "unknown option", "one image", "labels count",
        "no log_dir", "every 0", "no layers", "bad objective", "progress", "maximize option",
        "mask size", "metric without masks", "unknown metric"])
def test_bad_arguments_are_refused_when_the_callback_is_made(tmp_path, make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make(tmp_path)


@pytest.mark.parametrize("make, message", [
    (lambda d: FeatureMapsCallback(images(2), ["conv3"], log_dir=d), "conv3"),
    (lambda d: FeatureMapsCallback(images(2), ["predictions"], log_dir=d), "spatial"),
    (lambda d: FiltersCallback(["gap"], log_dir=d), "gap"),
    (lambda d: MaximizeCallback(objectives.channel("conv2", 9), log_dir=d), "9"),
    (lambda d: ExplainCallback(images(2, size=12), log_dir=d), "12"),
], ids=["unknown layer", "dense layer", "not a convolution", "channel out of range",
        "image size"])
def test_what_the_model_cannot_do_is_refused_before_the_first_epoch(tmp_path, make, message):
    model = trainable_cnn()
    before = model_state(model)["weights"]
    with pytest.raises((ValueError, TypeError), match=message):
        train(model, [make(tmp_path)], epochs=1)
    for a, b in zip(before, model_state(model)["weights"]):  # no training step ran
        np.testing.assert_array_equal(a, b)
