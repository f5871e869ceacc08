"""The activation atlas (Carter et al., 2019): what a layer represents across a whole dataset.

Activation vectors are sampled from the feature maps of many images, laid out in 2-D so that
similar vectors sit together (UMAP or t-SNE), and averaged over the cells of a grid; each cell's
mean vector is then rendered by feature visualization, all cells in one batched maximization.
"""

import dataclasses
import io as _io
import json
import os
import pathlib

import numpy as np

from keras_vis._checks import check_choice, check_model, check_positive_int, expected
from keras_vis.atlas.collect import SAMPLINGS, check_layer, collect
from keras_vis.atlas.layout import METHODS, bin_layout, reduce
from keras_vis.io import atomic_write
from keras_vis.layers import layer_of
from keras_vis import objectives
from keras_vis.maximization.render import check_value_range, maximize

_ARRAYS = ("image", "icons", "cells", "directions", "counts", "classes", "class_shares",
           "density", "layout", "activations", "sample_images", "sample_positions",
           "sample_classes")
_FORMAT = 1


@dataclasses.dataclass(frozen=True, eq=False)
class Atlas:
    """An activation atlas: a grid of rendered cells over a 2-D layout of activation vectors.

    Attributes:
        image: uint8 `(grid * size, grid * size, C)`, the composed atlas (empty cells white).
        icons: uint8 `(M, size, size, C)`, the rendering of each kept cell.
        cells: int32 `(M, 2)`, each kept cell's `(row, column)`, row 0 at the top.
        directions: float32 `(M, C)`, each cell's mean activation vector, the direction rendered.
        counts: int32 `(M,)`, activation vectors in each cell.
        classes: int32 `(M,)`, each cell's most frequent predicted class (-1 throughout for a
            model whose output is not class scores).
        class_shares: float32 `(M,)`, the share of the cell's vectors with that class.
        density: int32 `(grid, grid)`, vectors per cell, the cells below `min_density` included.
        layout: float32 `(n, 2)`, every sampled vector's place in the unit square (x, y).
        activations: float32 `(n, C)`, the sampled activation vectors.
        sample_images: int64 `(n,)`, the dataset position of each vector's image.
        sample_positions: int32 `(n, 2)`, each vector's `(y, x)` in its feature map.
        sample_classes: int32 `(n,)`, the class predicted for each vector's image.
        layer: the layer's name.
        grid: cells per side.
        size: side of a cell's icon in pixels.
        method: the layout method's name.
        seed: the seed that reproduces the atlas.
        class_names: `None` or the names of the classes, for labels.
    """

    image: np.ndarray
    icons: np.ndarray
    cells: np.ndarray
    directions: np.ndarray
    counts: np.ndarray
    classes: np.ndarray
    class_shares: np.ndarray
    density: np.ndarray
    layout: np.ndarray
    activations: np.ndarray
    sample_images: np.ndarray
    sample_positions: np.ndarray
    sample_classes: np.ndarray
    layer: str
    grid: int
    size: int
    method: str
    seed: int
    class_names: tuple = None

    def class_name(self, index):
        """The name of class `index` (its number without `class_names`)."""
        if self.class_names is not None and 0 <= index < len(self.class_names):
            return str(self.class_names[index])
        return str(index)

    def save(self, path):
        """Writes the atlas, its activations and layout included, to a `.npz` file (atomically).

        Args:
            path: the file, ending in `.npz`.

        Returns:
            The `pathlib.Path` written.
        """
        path = _npz_path(path)
        meta = {"format": _FORMAT, "layer": self.layer, "grid": self.grid, "size": self.size,
                "method": self.method, "seed": self.seed,
                "class_names": None if self.class_names is None else list(self.class_names)}
        buffer = _io.BytesIO()
        np.savez_compressed(buffer, meta=np.array(json.dumps(meta)),
                            **{name: getattr(self, name) for name in _ARRAYS})
        with atomic_write(path, "wb") as file:
            file.write(buffer.getvalue())
        return path

    @classmethod
    def load(cls, path):
        """Reads an atlas written by `Atlas.save`.

        Raises:
            FileNotFoundError: if there is no such file.
            ValueError: if the file is not an atlas.
        """
        path = _npz_path(path)
        if not path.is_file():
            raise FileNotFoundError(f"Expected an atlas file at '{path}', but there is none.")
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                arrays = {name: data[name] for name in _ARRAYS}
        except (KeyError, ValueError, OSError) as error:
            raise ValueError(f"Expected an atlas written by `Atlas.save` at '{path}', but it "
                             f"cannot be read as one ({error}).") from None
        if meta.get("format") != _FORMAT:
            raise ValueError(f"Expected an atlas of format {_FORMAT} at '{path}'. Received: "
                             f"format {meta.get('format')!r}.")
        names = meta["class_names"]
        return cls(**arrays, layer=meta["layer"], grid=meta["grid"], size=meta["size"],
                   method=meta["method"], seed=meta["seed"],
                   class_names=None if names is None else tuple(names))

    def __repr__(self):
        return (f"Atlas(layer={self.layer!r}, grid={self.grid}, cells={len(self.cells)}, "
                f"samples={len(self.layout)}, method={self.method!r}, seed={self.seed})")


def _npz_path(path):
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(expected("path", "a file path ending in .npz", path))
    path = pathlib.Path(os.fspath(path))
    if path.suffix != ".npz":
        raise ValueError(expected("path", "a file path ending in .npz", str(path),
                                  f"Use '{path.with_suffix('.npz')}'."))
    return path


def _cell_statistics(samples, cells):
    directions = np.stack([samples.vectors[m].mean(axis=0) for m in cells.members])
    counts = np.array([len(m) for m in cells.members], np.int32)
    classes, shares = [], []
    for members in cells.members:
        values, tally = np.unique(samples.classes[members], return_counts=True)
        classes.append(values[np.argmax(tally)])
        shares.append(tally.max() / len(members))
    return (directions.astype(np.float32), counts, np.array(classes, np.int32),
            np.array(shares, np.float32))


def _compose(icons, cells, grid, size, channels):
    image = np.full((grid * size, grid * size, channels), 255, np.uint8)
    for icon, (row, column) in zip(icons, cells):
        image[row * size:(row + 1) * size, column * size:(column + 1) * size] = icon
    return image


def activation_atlas(model, images, layer, *, grid=20, samples_per_image=2,
                     sampling="activation", method="umap", min_density=3, size=48, steps=128,
                     cossim_pow=1.0, class_names=None, value_range=(0, 255), preprocess=None,
                     batch_size=64, seed=None, progress=True):
    """An activation atlas of `layer` over a dataset.

    Every image gives `samples_per_image` activation vectors from `layer`'s feature map; their
    2-D layout (UMAP or t-SNE of the cosine distances) is cut into a `grid × grid` grid; each cell
    with at least `min_density` vectors is rendered by maximizing its mean vector as a direction
    at the centre of the map (`objectives.direction_neuron`), all cells in one batched render, and
    labelled with the class the model predicts most often for its vectors' images.

    Example:
        >>> atlas = keras_vis.activation_atlas(model, keras_vis.demo.shapes(400), "last_conv",
        ...                                    class_names=keras_vis.demo.CLASS_NAMES, grid=10,
        ...                                    steps=32, seed=0)
        >>> keras_vis.plot.atlas(atlas)

    Args:
        model: a built single-input `keras.Model`.
        images: the dataset, streamed `batch_size` images at a time: a numpy array
            `(N, H, W, C)` of model inputs, a tuple of arrays whose first is the images (such as
            `keras_vis.demo.shapes(...)` returns), a `tf.data.Dataset` of images or tuples, or a
            folder of image files (read at the model's input size).
        layer: a layer name, nested path, index or layer object with a `(N, H, W, C)` output
            (or `(N, C)`: one vector per image).
        grid: cells per side of the atlas.
        samples_per_image: activation vectors taken from each image's map (at most all of it).
        sampling: how their positions are drawn: `"activation"` (probability proportional to the
            squared norm of the activation vector, so the positions where the layer responds, on
            the object, dominate the layout, not the quiet background) or `"uniform"`.
        method: `"umap"` (umap-learn), `"tsne"` (scikit-learn), or a function from the `(n, C)`
            vectors to `(n, 2)` positions.
        min_density: the fewest vectors a cell needs to be rendered; sparser cells stay empty.
        size: side of each cell's icon in pixels.
        steps: optimization steps of the render.
        cossim_pow: weight of the cosine similarity in the rendered objective (see
            `objectives.direction_neuron`), so icons show the direction, not only its magnitude.
        class_names: names of the model's classes, for the labels of `plot.atlas`.
        value_range: `(low, high)` model input values of the rendered images' 0 and 1 (as in
            `maximize`).
        preprocess: `None` or the function the model's inputs need, applied to the dataset's
            batches and inside the render.
        batch_size: images per forward pass while reading the dataset.
        seed: an int makes the atlas reproducible (sampling, layout and render); `None` draws
            one, recorded in `Atlas.seed`.
        progress: show progress bars.

    Returns:
        An `Atlas`.

    Raises:
        TypeError, ValueError: for a model or dataset that does not fit, an unknown layer or
            option, too few vectors for a layout, or a grid with no cell of `min_density`.
    """
    check_model(model)
    tapped = layer_of(model, layer)
    check_layer(tapped)
    grid = check_positive_int(grid, "grid", minimum=2)
    samples_per_image = check_positive_int(samples_per_image, "samples_per_image")
    sampling = check_choice(sampling, "sampling", SAMPLINGS)
    if not callable(method):
        method = check_choice(method, "method", METHODS)
    min_density = check_positive_int(min_density, "min_density")
    size = check_positive_int(size, "size")
    steps = check_positive_int(steps, "steps")
    batch_size = check_positive_int(batch_size, "batch_size")
    value_range = check_value_range(value_range)
    if preprocess is not None and not callable(preprocess):
        raise TypeError(expected("preprocess", "None or a function", preprocess))
    if seed is None:
        seed = int(np.random.default_rng().integers(2**31))
    seed = check_positive_int(seed, "seed", minimum=0)

    samples = collect(model, images, tapped, samples_per_image=samples_per_image,
                      sampling=sampling, batch_size=batch_size, preprocess=preprocess,
                      rng=np.random.default_rng(seed), progress=progress)
    layout = reduce(samples.vectors, method, seed)
    cells = bin_layout(layout, grid, min_density)
    if not len(cells.cells):
        raise ValueError(
            expected("min_density", f"at most {cells.density.max()}, the fullest cell's count",
                     min_density, "Lower it, use a coarser `grid`, or sample more vectors.")
        )
    directions, counts, classes, shares = _cell_statistics(samples, cells)
    objective = objectives.direction_neuron(layer, directions, cossim_pow=cossim_pow)
    icons = maximize(model, objective, size=size, steps=steps, seed=seed, param="fourier",
                     decorrelate=model.inputs[0].shape[-1] == 3, value_range=value_range,
                     preprocess=preprocess, progress=progress)
    return Atlas(
        image=_compose(icons, cells.cells, grid, size, icons.shape[-1]), icons=icons,
        cells=cells.cells, directions=directions, counts=counts, classes=classes,
        class_shares=shares, density=cells.density, layout=layout,
        activations=samples.vectors, sample_images=samples.images,
        sample_positions=samples.positions, sample_classes=samples.classes,
        layer=tapped.name if not isinstance(layer, str) else layer, grid=grid, size=size,
        method=method if isinstance(method, str) else getattr(method, "__name__", "custom"),
        seed=seed, class_names=None if class_names is None else tuple(class_names),
    )
