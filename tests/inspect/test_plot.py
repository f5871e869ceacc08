"""Overlays by formula, figure layouts, drawn tile contents and atomic figure files."""

import keras
import matplotlib
import numpy as np
import pytest
from helpers.state import assert_model_unchanged, model_state

from keras_vis import plot
from keras_vis.inspect import feature_maps
from keras_vis.io import load_image


def image_axes(figure):
    """The axes that show an image, in drawing order, sub-figures included."""
    return [ax for ax in figure.get_axes() if ax.images]


def shown(ax):
    return np.ma.getdata(ax.images[0].get_array())


# --- overlay --------------------------------------------------------------------------------------


def test_overlay_is_the_alpha_blend_of_the_colormapped_heatmap(rng):
    image = rng.integers(0, 256, (3, 4, 3), dtype=np.uint8)
    heatmap = rng.random((3, 4)).astype(np.float32)
    heatmap[0, 0], heatmap[2, 3] = 0.0, 1.0  # already spans [0, 1]: normalizing changes nothing
    blended = plot.overlay(image, heatmap, cmap="viridis", alpha=0.3)
    colours = matplotlib.colormaps["viridis"](heatmap)[..., :3] * 255
    expected = np.round(0.7 * image + 0.3 * colours)
    assert blended.shape == (3, 4, 3) and blended.dtype == np.uint8
    assert np.max(np.abs(blended.astype(int) - expected)) <= 1


def test_overlay_alpha_extremes_and_float_images(rng):
    image = rng.integers(0, 256, (5, 6, 3), dtype=np.uint8)
    heatmap = rng.random((5, 6)).astype(np.float32)
    np.testing.assert_array_equal(plot.overlay(image, heatmap, alpha=0.0), image)
    np.testing.assert_array_equal(plot.overlay(image / 255.0, heatmap, alpha=0.0), image)
    jet = matplotlib.colormaps["jet"]
    scaled = (heatmap - heatmap.min()) / (heatmap.max() - heatmap.min())
    full = plot.overlay(image, heatmap, alpha=1.0)
    assert np.max(np.abs(full.astype(int) - np.round(jet(scaled)[..., :3] * 255))) <= 1
    # without normalizing, values are taken as they are
    raw = plot.overlay(image, heatmap * 0.5, alpha=1.0, normalize=False)
    assert np.max(np.abs(raw.astype(int) - np.round(jet(heatmap * 0.5)[..., :3] * 255))) <= 1


def test_overlay_resizes_the_heatmap_and_accepts_grey_and_batches():
    image = np.full((1, 8, 10, 1), 100, np.uint8)  # a batch of one grey image
    heatmap = np.array([[[0.0, 1.0], [1.0, 0.0]]])  # a batch of one 2×2 map
    blended = plot.overlay(image, heatmap, alpha=0.5, cmap="gray")
    assert blended.shape == (8, 10, 3)
    # corners keep the corner values of the 2×2 map; grey colormap: value v → 255 v
    assert tuple(blended[0, 0]) == (50, 50, 50)
    assert tuple(blended[0, -1]) == (178, 178, 178)  # round(50 + 127.5) with half to even
    assert np.all(blended[..., 0] == blended[..., 1])


def test_overlay_bad_input():
    image = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(ValueError, match="/ 255"):
        plot.overlay(np.full((4, 4, 3), 200.0), np.ones((2, 2)))
    with pytest.raises(ValueError, match="finite"):
        plot.overlay(image, np.full((2, 2), np.nan))
    with pytest.raises(ValueError, match="heatmap"):
        plot.overlay(image, np.ones((2, 2, 3)))
    with pytest.raises(ValueError, match="alpha"):
        plot.overlay(image, np.ones((2, 2)), alpha=1.5)
    with pytest.raises(ValueError, match="cmap"):
        plot.overlay(image, np.ones((2, 2)), cmap="no_such_map")
    with pytest.raises(ValueError, match="image"):
        plot.overlay(np.zeros((4, 4, 2), np.uint8), np.ones((2, 2)))


# --- grid and save --------------------------------------------------------------------------------


def test_grid_layout_and_saved_size(tmp_path, rng):
    images = [rng.random((10, 20, 3)) for _ in range(5)] + [rng.random((10, 20))]
    figure = plot.grid(images, cols=4, tile_size=2.0)
    assert len(image_axes(figure)) == 6
    assert len(figure.get_axes()) == 8  # 2 rows × 4, the last two left empty
    width, height = figure.get_size_inches()
    assert (width, height) == (8.0, 2 * 2.0 * 0.5)
    path = plot.save(figure, tmp_path / "figs" / "grid.png", dpi=50)
    saved = load_image(path)
    assert saved.shape == (100, 400, 3)
    assert saved.std() > 10  # not blank
    assert [p.name for p in path.parent.iterdir()] == ["grid.png"]


def test_grid_draws_each_tile_as_given(rng):
    rgb = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    grey = rng.random((4, 4))
    figure = plot.grid(np.stack([rgb / 255.0, rgb / 255.0]), titles=["a", "b"])
    np.testing.assert_array_equal(shown(image_axes(figure)[0]), rgb)
    assert [ax.get_title() for ax in image_axes(figure)] == ["a", "b"]
    np.testing.assert_array_equal(shown(image_axes(plot.grid([grey]))[0]), grey)


def test_grid_bad_input(rng):
    with pytest.raises(ValueError, match="at least one"):
        plot.grid([])
    with pytest.raises(ValueError, match="titles"):
        plot.grid([rng.random((3, 3))], titles=["a", "b"])
    with pytest.raises(ValueError, match=r"images\[1\]"):
        plot.grid([rng.random((3, 3)), rng.random((3, 3, 2))])
    with pytest.raises(TypeError, match="cols"):
        plot.grid([rng.random((3, 3))], cols=1.5)


def test_save_rejects_unknown_formats_and_keeps_old_files(tmp_path, rng, monkeypatch):
    figure = plot.grid([rng.random((3, 3))])
    with pytest.raises(ValueError, match=r"\.png"):
        plot.save(figure, tmp_path / "figure.nope")
    assert list(tmp_path.iterdir()) == []
    target = tmp_path / "figure.svg"
    target.write_text("old")

    def failing_savefig(file, **kwargs):
        file.write(b"<?xml half a fig")
        raise RuntimeError("renderer crashed")

    with monkeypatch.context() as patch:
        patch.setattr(figure, "savefig", failing_savefig)
        with pytest.raises(RuntimeError):
            plot.save(figure, target)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["figure.svg"]
    plot.save(figure, target)
    assert target.read_text().lstrip().startswith("<?xml")


# --- filters --------------------------------------------------------------------------------------


def rescaled(values):
    return (values - values.min()) / (values.max() - values.min())


def test_first_layer_filters_are_colour_tiles(tiny_cnn, tmp_path):
    state = model_state(tiny_cnn)
    figure = plot.filters(tiny_cnn, "conv1")
    axes = image_axes(figure)
    kernel = tiny_cnn.get_layer("conv1").kernel.numpy()  # (3, 3, 3, 4)
    assert len(axes) == 4
    for index, ax in enumerate(axes):
        expected = np.round(rescaled(kernel[..., index]) * 255)
        assert np.max(np.abs(shown(ax).astype(int) - expected)) <= 1
    assert figure.get_suptitle().startswith("conv1: 4 filters")
    saved = load_image(plot.save(figure, tmp_path / "filters.png"))
    assert saved.std() > 10
    assert_model_unchanged(tiny_cnn, state)


def test_deeper_filters_are_grey_grids_of_input_channels(tiny_cnn):
    kernel = tiny_cnn.get_layer("conv2").kernel.numpy()  # (3, 3, 4, 6)
    axes = image_axes(plot.filters(tiny_cnn, "conv2", max_filters=5, max_channels=3))
    assert len(axes) == 5
    for index, ax in enumerate(axes):
        tile = shown(ax)
        # 3 channels laid out 2 per row with 1-pixel gaps: a 7×7 canvas
        assert tile.shape == (7, 7)
        channels = rescaled(kernel[:, :, :3, index])
        np.testing.assert_allclose(tile[0:3, 0:3], channels[..., 0], atol=1e-6)
        np.testing.assert_allclose(tile[0:3, 4:7], channels[..., 1], atol=1e-6)
        np.testing.assert_allclose(tile[4:7, 0:3], channels[..., 2], atol=1e-6)
        assert np.all(np.isnan(tile[3, :])) and np.all(np.isnan(tile[4:7, 4:7]))


def test_filter_tiles_are_the_rescaled_kernels_with_a_title_of_what_they_show(tiny_cnn):
    state = model_state(tiny_cnn)
    kernel = tiny_cnn.get_layer("conv1").kernel.numpy()  # (3, 3, 3, 4)
    tiles, title = plot.filter_tiles(tiny_cnn, "conv1", max_filters=3)
    assert len(tiles) == 3 and all(tile.dtype == np.float32 for tile in tiles)
    for index, tile in enumerate(tiles):
        np.testing.assert_allclose(tile, rescaled(kernel[..., index]), atol=1e-6)
    assert title == "conv1: first 3 of 4 filters, 3×3 RGB kernels"
    grey, title = plot.filter_tiles(tiny_cnn, "conv2", max_channels=3)
    second = tiny_cnn.get_layer("conv2").kernel.numpy()  # (3, 3, 4, 6)
    assert len(grey) == 6 and grey[5].shape == (7, 7)
    np.testing.assert_allclose(grey[5][4:7, 0:3], rescaled(second[:, :, :3, 5])[..., 2], atol=1e-6)
    assert title == "conv2: 6 filters, 3×3 kernels, first 3 of 4 input channels per tile"
    _, title = plot.filter_tiles(tiny_cnn, "conv2")
    assert title.endswith("all 4 input channels per tile")
    with pytest.raises(ValueError, match="3 input channels"):
        plot.filter_tiles(tiny_cnn, "conv2", rgb=True)
    with pytest.raises(ValueError, match="max_channels"):
        plot.filter_tiles(tiny_cnn, "conv2", max_channels=0)
    assert_model_unchanged(tiny_cnn, state)


def test_filters_options_and_errors(tiny_cnn):
    assert len(image_axes(plot.filters(tiny_cnn, "conv1", rgb=False, max_filters=2))) == 2
    assert shown(image_axes(plot.filters(tiny_cnn, "conv1", rgb=False))[0]).ndim == 2
    with pytest.raises(ValueError, match="3 input channels"):
        plot.filters(tiny_cnn, "conv2", rgb=True)
    with pytest.raises(ValueError, match="conv_layers"):
        plot.filters(tiny_cnn, "gap")
    with pytest.raises(ValueError, match="max_filters"):
        plot.filters(tiny_cnn, "conv1", max_filters=0)


# --- feature maps ---------------------------------------------------------------------------------


def test_feature_map_figure_has_a_block_per_layer(tiny_cnn, rng, tmp_path):
    image = rng.random((16, 16, 3)).astype(np.float32)
    state = model_state(tiny_cnn)
    figure = plot.feature_maps(tiny_cnn, image, ["conv1", "conv2"], max_channels=3)
    maps = feature_maps(tiny_cnn, image[None], ["conv1", "conv2"])
    assert len(figure.subfigs) == 2
    for subfigure, name in zip(figure.subfigs, ["conv1", "conv2"]):
        axes = image_axes(subfigure)
        assert len(axes) == 3
        for channel, ax in enumerate(axes):
            np.testing.assert_array_equal(shown(ax), maps[name][0, ..., channel])
        assert subfigure.get_suptitle().startswith(name)
    saved = load_image(plot.save(figure, tmp_path / "maps.png", dpi=40))
    width, height = figure.get_size_inches()
    assert saved.shape == (round(height * 40), round(width * 40), 3) and saved.std() > 5
    assert_model_unchanged(tiny_cnn, state)


def test_feature_map_figure_wraps_columns_and_checks_layers(tiny_cnn, rng):
    image = rng.random((1, 16, 16, 3)).astype(np.float32)  # a batch of one is fine too
    figure = plot.feature_maps(tiny_cnn, image, "conv2", cols=4)
    assert len(image_axes(figure)) == 6 and len(figure.get_axes()) == 8
    with pytest.raises(ValueError, match="spatial"):
        plot.feature_maps(tiny_cnn, image, ["conv1", "gap"])
    with pytest.raises(ValueError, match="one image"):
        plot.feature_maps(tiny_cnn, np.zeros((2, 16, 16, 3)), "conv1")


def test_classic_four_by_five_grid_of_layer_outputs():
    inputs = keras.Input((16, 16, 3))
    x = inputs
    for index, filters in enumerate([6, 6, 8, 8], start=1):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"block{index}_conv")(x)
    model = keras.Model(inputs, x)
    figure = plot.feature_maps(model, np.ones((16, 16, 3)), [f"block{i}_conv" for i in range(1, 5)],
                               max_channels=5)
    assert [len(image_axes(s)) for s in figure.subfigs] == [5, 5, 5, 5]
