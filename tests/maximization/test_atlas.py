"""The activation atlas: sampled vectors are the layer's activations where it responds, cells
hold the means and majority classes a naive loop computes, every cell's direction is rendered in
one batched maximization, the demo model's atlas separates its classes, the same seed gives the
same atlas from any kind of dataset, it survives save and load, and bad input is refused."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from matplotlib.figure import Figure

import keras_vis
from keras_vis import demo, plot
from keras_vis.atlas import Atlas, activation_atlas
from keras_vis.atlas.layout import bin_layout
from keras_vis.inspect import feature_maps
from keras_vis.io import save_image
from keras_vis.maximization import maximize, objectives

FAST = dict(grid=6, size=16, steps=3, min_density=2, progress=False)


def pca(vectors):
    """A quick deterministic layout for tests that are not about UMAP or t-SNE."""
    centred = vectors - vectors.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    return centred @ axes[:2].T


@pytest.fixture(scope="module")
def demo_model():
    keras.backend.clear_session()
    return demo.load_model()


@pytest.fixture(scope="module")
def shapes_data():
    return demo.shapes(300, seed=11)


def test_vectors_are_the_activations_at_the_sampled_positions(demo_model, shapes_data):
    images = shapes_data[0][:40]
    atlas = activation_atlas(demo_model, images, "last_conv", samples_per_image=3, seed=1,
                             method=pca, **FAST)
    maps = feature_maps(demo_model, images, "last_conv")["last_conv"]
    assert atlas.activations.shape == (120, 96)
    np.testing.assert_array_equal(atlas.sample_images, np.repeat(np.arange(40), 3))
    y, x = atlas.sample_positions.T
    np.testing.assert_allclose(atlas.activations, maps[atlas.sample_images, y, x],
                               rtol=1e-5, atol=1e-5)
    for image in range(40):  # three distinct positions per image
        assert len({tuple(p) for p in atlas.sample_positions[atlas.sample_images == image]}) == 3
    predicted = demo_model.predict(images.astype(np.float32), verbose=0).argmax(1)
    np.testing.assert_array_equal(atlas.sample_classes, predicted[atlas.sample_images])


def test_activation_sampling_picks_where_the_layer_responds(rng):
    """A layer that is zero except at one position per image: activation-weighted sampling always
    draws that position, uniform sampling draws everywhere."""
    keras.backend.clear_session()
    inputs = keras.Input((6, 6, 1))
    model = keras.Model(inputs, keras.layers.Conv2D(4, 1, activation="relu", name="conv")(inputs))
    model.get_layer("conv").set_weights([np.ones((1, 1, 1, 4), np.float32), np.zeros(4)])
    spots = rng.integers(0, 6, (30, 2))
    images = np.zeros((30, 6, 6, 1), np.float32)
    images[np.arange(30), spots[:, 0], spots[:, 1]] = 1.0
    options = dict(FAST, grid=3, method=pca, seed=0, samples_per_image=1)
    atlas = activation_atlas(model, images, "conv", value_range=(0, 1), **options)
    np.testing.assert_array_equal(atlas.sample_positions, spots)
    uniform = activation_atlas(model, images, "conv", sampling="uniform", value_range=(0, 1),
                               **options)
    assert np.mean(np.all(uniform.sample_positions == spots, axis=1)) < 0.3


def test_cells_hold_the_mean_vector_and_majority_class_of_their_members(demo_model,
                                                                          shapes_data):
    atlas = activation_atlas(demo_model, shapes_data[0][:60], "last_conv", method=pca, seed=2,
                             **FAST)
    grid = atlas.grid
    density = np.zeros((grid, grid), int)
    members = {}
    for i, (x, y) in enumerate(atlas.layout):  # naive binning: row 0 is the top
        row, column = grid - 1 - min(int(y * grid), grid - 1), min(int(x * grid), grid - 1)
        density[row, column] += 1
        members.setdefault((row, column), []).append(i)
    np.testing.assert_array_equal(atlas.density, density)
    kept = sorted(cell for cell, m in members.items() if len(m) >= 2)
    assert [tuple(c) for c in atlas.cells] == kept
    for k, cell in enumerate(kept):
        chosen = members[cell]
        np.testing.assert_allclose(atlas.directions[k], atlas.activations[chosen].mean(axis=0),
                                   rtol=1e-5, atol=1e-6)
        assert atlas.counts[k] == len(chosen)
        tally = np.bincount(atlas.sample_classes[chosen])
        assert atlas.classes[k] == tally.argmax()
        assert atlas.class_shares[k] == pytest.approx(tally.max() / len(chosen))
    assert np.all((atlas.layout >= 0) & (atlas.layout <= 1))


def test_every_cell_is_its_direction_rendered_in_one_batch(demo_model, shapes_data):
    atlas = activation_atlas(demo_model, shapes_data[0][:60], "last_conv", method=pca, seed=3,
                             **FAST)
    direct = maximize(demo_model, objectives.direction_neuron("last_conv", atlas.directions,
                                                              cossim_pow=1.0),
                      size=16, steps=3, seed=3, param="fourier", decorrelate=True,
                      progress=False)
    np.testing.assert_array_equal(atlas.icons, direct)
    size = atlas.size
    for icon, (row, column) in zip(atlas.icons, atlas.cells):
        np.testing.assert_array_equal(
            atlas.image[row * size:(row + 1) * size, column * size:(column + 1) * size], icon)
    empty = np.ones((atlas.grid, atlas.grid), bool)
    empty[tuple(atlas.cells.T)] = False
    for row, column in np.argwhere(empty):
        assert np.all(atlas.image[row * size:(row + 1) * size, column * size:(column + 1) * size]
                      == 255)


def test_the_demo_models_atlas_separates_its_classes_and_depends_only_on_its_seed(
        demo_model, shapes_data):
    options = dict(grid=10, size=16, steps=2, min_density=3, progress=False,
                   class_names=demo.CLASS_NAMES)
    atlas = activation_atlas(demo_model, shapes_data, "last_conv", seed=0, **options)
    dense = atlas.counts >= 10
    assert dense.sum() >= 10
    assert np.mean(atlas.class_shares[dense] >= 0.8) >= 0.8
    again = activation_atlas(demo_model, shapes_data, "last_conv", seed=0, **options)
    for name in ("layout", "image", "directions", "sample_positions"):
        np.testing.assert_array_equal(getattr(atlas, name), getattr(again, name))
    other = activation_atlas(demo_model, shapes_data, "last_conv", seed=1, **options)
    assert not np.array_equal(atlas.layout, other.layout)
    assert atlas.class_name(int(atlas.classes[0])) in demo.CLASS_NAMES


def test_tsne_layout_separates_the_classes_too(demo_model, shapes_data):
    atlas = activation_atlas(demo_model, shapes_data[0][:150], "last_conv", method="tsne",
                             seed=0, grid=6, size=16, steps=2, min_density=3, progress=False)
    dense = atlas.counts >= 10
    assert atlas.method == "tsne" and dense.sum() >= 3
    assert np.mean(atlas.class_shares[dense] >= 0.8) >= 0.8


def test_a_tf_dataset_and_a_folder_give_the_atlas_of_the_array(demo_model, shapes_data,
                                                                tmp_path):
    images = shapes_data[0][:24]
    options = dict(FAST, method=pca, seed=4)
    want = activation_atlas(demo_model, images, "last_conv", **options)
    batched = tf.data.Dataset.from_tensor_slices((images, shapes_data[1][:24])).batch(5)
    for i, image in enumerate(images):
        save_image(tmp_path / f"{i:03d}.png", image)
    for dataset in (batched, tf.data.Dataset.from_tensor_slices(images), str(tmp_path)):
        got = activation_atlas(demo_model, dataset, "last_conv", batch_size=7, **options)
        np.testing.assert_allclose(got.activations, want.activations, rtol=1e-4, atol=1e-4)
        np.testing.assert_array_equal(got.sample_positions, want.sample_positions)


def test_a_dense_layer_gives_one_vector_per_image(demo_model, shapes_data):
    images = shapes_data[0][:20]
    atlas = activation_atlas(demo_model, images, "gap", method=pca, seed=0, **FAST)
    np.testing.assert_allclose(atlas.activations,
                               feature_maps(demo_model, images, "gap")["gap"], rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_array_equal(atlas.sample_images, np.arange(20))


def test_save_and_load_keep_everything(demo_model, shapes_data, tmp_path):
    atlas = activation_atlas(demo_model, shapes_data[0][:30], "last_conv", method=pca, seed=5,
                             class_names=demo.CLASS_NAMES, **FAST)
    path = atlas.save(tmp_path / "atlas.npz")
    loaded = keras_vis.Atlas.load(path)
    for field in ("image", "icons", "cells", "directions", "counts", "classes", "class_shares",
                  "density", "layout", "activations", "sample_images", "sample_positions",
                  "sample_classes"):
        np.testing.assert_array_equal(getattr(loaded, field), getattr(atlas, field))
    assert (loaded.layer, loaded.grid, loaded.size, loaded.method, loaded.seed,
            loaded.class_names) == ("last_conv", 6, 16, "pca", 5, demo.CLASS_NAMES)
    assert [p.name for p in tmp_path.iterdir()] == ["atlas.npz"]  # no temporary file left

    figure = plot.atlas(loaded)
    assert isinstance(figure, Figure)
    legend = [t.get_text() for t in figure.legends[0].get_texts()]
    assert legend == [demo.CLASS_NAMES[k] for k in sorted(set(loaded.classes))]
    assert len(figure.axes[0].patches) == len(loaded.cells)
    assert not plot.atlas(loaded, labels=False).legends


def test_loading_refuses_what_is_not_an_atlas(tmp_path):
    with pytest.raises(FileNotFoundError, match="atlas"):
        Atlas.load(tmp_path / "missing.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="Atlas.save"):
        Atlas.load(tmp_path / "other.npz")
    with pytest.raises(ValueError, match=r"\.npz"):
        Atlas.load(tmp_path / "atlas.json")
    with pytest.raises(TypeError, match="Atlas"):
        plot.atlas(np.zeros((4, 4, 3)))


@pytest.mark.parametrize("options, error, match", [
    (dict(layer="nowhere"), ValueError, "nowhere"),
    (dict(layer="image"), ValueError, "after the input"),
    (dict(grid=1), ValueError, "grid"),
    (dict(samples_per_image=0), ValueError, "samples_per_image"),
    (dict(sampling="random"), ValueError, "sampling"),
    (dict(method="pca"), ValueError, "method"),
    (dict(min_density=10_000), ValueError, "min_density.*fullest"),
    (dict(images=np.zeros((2, 64, 64, 3)), samples_per_image=1), ValueError, "at least 8"),
    (dict(images=np.zeros((4, 32, 32, 3))), ValueError, "images"),
    (dict(method=lambda v: v[:, :1]), ValueError, "method.*2"),
    (dict(seed=-1), ValueError, "seed"),
])
def test_bad_input_is_refused_clearly(demo_model, shapes_data, options, error, match):
    arguments = dict(images=shapes_data[0][:12], layer="last_conv", method=pca, seed=0)
    arguments.update(options)
    images, layer = arguments.pop("images"), arguments.pop("layer")
    with pytest.raises(error, match=match):
        activation_atlas(demo_model, images, layer, **{**FAST, **arguments})
