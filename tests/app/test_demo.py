"""The bundled demo model and its sample images."""

import os

import keras
import numpy as np
import pytest

from keras_vis import demo
from keras_vis.demo import shapes, train

# Never used by training (seeds TRAIN_SEED_OFFSET + epoch) nor by its final evaluation.
FRESH_SEED = 31337


@pytest.fixture(scope="module")
def model():
    keras.backend.clear_session(free_memory=False)
    yield demo.load_model()
    keras.backend.clear_session(free_memory=False)


def test_fresh_seed_is_unseen_in_training():
    assert FRESH_SEED not in (train.TEST_SEED, demo.SAMPLE_SEED)
    assert not train.TRAIN_SEED_OFFSET <= FRESH_SEED < train.TRAIN_SEED_OFFSET + 1000


def test_bundled_file_is_small():
    assert os.path.isfile(demo.MODEL_PATH)
    assert os.path.getsize(demo.MODEL_PATH) < 4 * 2**20


def test_model_contract(model):
    assert isinstance(model, keras.Model) and not isinstance(model, keras.Sequential)
    assert tuple(model.input_shape) == (None, demo.INPUT_SIZE, demo.INPUT_SIZE, 3)
    assert tuple(model.output_shape) == (None, len(demo.CLASS_NAMES))
    assert isinstance(model.layers[1], keras.layers.Rescaling)
    # A class activation map head: last convolution -> global average pooling -> softmax dense.
    gap, head = model.get_layer("gap"), model.get_layer("predictions")
    assert isinstance(gap, keras.layers.GlobalAveragePooling2D)
    assert isinstance(head, keras.layers.Dense) and head.get_config()["activation"] == "softmax"
    assert model.layers[-2:] == [gap, head]
    last = model.get_layer(demo.LAST_CONV_LAYER)
    assert isinstance(last, keras.layers.Conv2D) and model.layers[-3] is last
    assert last.output.shape[1] >= 8 and last.output.shape[2] >= 8
    for name in ("block1_conv1", "block1_pool", "block2_conv1", "block2_pool", "block3_conv1"):
        model.get_layer(name)
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in model.layers)


def test_model_loads_in_safe_mode_compiled_or_not():
    loaded = keras.saving.load_model(demo.MODEL_PATH, safe_mode=True)
    assert tuple(loaded.input_shape) == (None, demo.INPUT_SIZE, demo.INPUT_SIZE, 3)


def test_accuracy_on_fresh_images(model):
    images, labels, _ = shapes(200, size=demo.INPUT_SIZE, seed=FRESH_SEED)
    probabilities = model.predict(images.astype(np.float32), batch_size=200, verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    accuracy = (probabilities.argmax(axis=1) == labels).mean()
    assert accuracy >= 0.97, f"demo model accuracy {accuracy:.1%} < 97 %"


def test_load_model_reports_a_missing_file(tmp_path):
    missing = tmp_path / "nothing.keras"
    with pytest.raises(FileNotFoundError, match="python -m keras_vis.demo.train"):
        demo.load_model(str(missing))


def test_sample_images():
    images, names = demo.sample_images()
    size = demo.INPUT_SIZE
    assert images.dtype == np.uint8 and images.shape == (len(names), size, size, 3)
    assert names == list(demo.CLASS_NAMES) + list(demo.PHOTOS)
    assert all(image.std() > 0 for image in images)
    shapes_only, shape_names = demo.sample_images(photos=False)
    assert shape_names == list(demo.CLASS_NAMES)
    np.testing.assert_array_equal(shapes_only, images[: len(demo.CLASS_NAMES)])


def test_sample_shapes_come_with_labels_and_masks(model):
    images, labels, masks = demo.sample_shapes()
    count = len(demo.CLASS_NAMES)
    assert images.shape == (count, demo.INPUT_SIZE, demo.INPUT_SIZE, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(labels, np.arange(count))
    assert masks.shape == images.shape[:3] and masks.dtype == bool and masks.any(axis=(1, 2)).all()
    predicted = model.predict(images.astype(np.float32), verbose=0).argmax(axis=1)
    np.testing.assert_array_equal(predicted, labels)


def test_sample_batch():
    batch = demo.sample_batch()
    assert batch.dtype == np.float32 and batch.shape == (len(demo.CLASS_NAMES), 64, 64, 3)
    assert 1.0 < batch.max() <= 255.0
    np.testing.assert_array_equal(batch, demo.sample_images(photos=False)[0])
    assert len(demo.sample_batch(photos=True)) == len(demo.CLASS_NAMES) + len(demo.PHOTOS)


def test_the_bundled_atlas_is_the_demo_models_and_separates_its_classes(model):
    """The atlas shipped with the demo model: its vectors are the model's activations on the
    generated images it names, and 80% of its cells of at least 10 vectors hold one class for
    80% or more of their vectors."""
    from keras_vis.demo.atlas import ATLAS_IMAGES, atlas_images, load_atlas
    from keras_vis.inspect import feature_maps

    atlas = load_atlas()
    assert (atlas.layer, atlas.grid, atlas.class_names) == ("last_conv", 20, demo.CLASS_NAMES)
    assert atlas.sample_images.max() < ATLAS_IMAGES
    first = atlas.sample_images < 16
    images = atlas_images()[0][:16]
    maps = feature_maps(model, images, "last_conv")["last_conv"]
    y, x = atlas.sample_positions[first].T
    np.testing.assert_allclose(atlas.activations[first], maps[atlas.sample_images[first], y, x],
                               rtol=1e-4, atol=1e-4)
    dense = atlas.counts >= 10
    assert dense.sum() >= 50
    assert np.mean(atlas.class_shares[dense] >= 0.8) >= 0.8
