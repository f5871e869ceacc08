"""2-D layouts of activation vectors (UMAP or t-SNE) and their binning into a grid of cells."""

import dataclasses
import warnings

import numpy as np

from keras_vis._checks import expected

METHODS = ("umap", "tsne")
MIN_SAMPLES = 8
"""Fewest vectors a layout is computed for: the neighbourhood graphs need a few neighbours."""
SPREAD = 0.8
"""UMAP's `min_dist`: well apart, so that the few thousand vectors of a small dataset cover the
grid instead of piling into one cell per class (Lucid's 0.01 suits a million vectors)."""


def _umap(vectors, seed):
    with warnings.catch_warnings():
        # umap-learn's progress bars warn in a notebook without ipywidgets; they are not used.
        warnings.simplefilter("ignore")
        import umap  # imported on first use: it compiles with numba when first loaded

    neighbours = min(20, len(vectors) - 1)
    reducer = umap.UMAP(n_components=2, n_neighbors=neighbours, min_dist=SPREAD, metric="cosine",
                        random_state=seed, n_jobs=1 if seed is not None else -1)
    with warnings.catch_warnings():
        # The note that a seed turns parallelism off, and numba's on the first compilation.
        warnings.simplefilter("ignore")
        return reducer.fit_transform(vectors)


def _tsne(vectors, seed):
    from sklearn.manifold import TSNE

    perplexity = min(30.0, (len(vectors) - 1) / 3.0)
    return TSNE(n_components=2, perplexity=perplexity, metric="cosine", init="pca",
                random_state=seed).fit_transform(vectors)


def reduce(vectors, method, seed):
    """The `(n, 2)` layout of `(n, C)` vectors, scaled into the unit square.

    Args:
        vectors: float32 `(n, C)`.
        method: `"umap"`, `"tsne"`, or a function from the vectors to an `(n, 2)` array.
        seed: int seed of the reduction (`None`: not reproducible).

    Returns:
        float32 `(n, 2)` in [0, 1]: the layout's 1st–99th percentile box scaled to the unit
        square, the few points outside clipped onto its edge (outliers would otherwise squeeze
        the rest into a corner).
    """
    if len(vectors) < MIN_SAMPLES:
        raise ValueError(
            expected("images", f"at least {MIN_SAMPLES} activation vectors for a layout",
                     f"{len(vectors)}", "Pass more images or a larger `samples_per_image`.")
        )
    if callable(method):
        layout = np.asarray(method(vectors), np.float64)
        if layout.shape != (len(vectors), 2) or not np.all(np.isfinite(layout)):
            raise ValueError(expected("method", f"a function returning finite ({len(vectors)}, 2) "
                                      "positions", f"shape {layout.shape}"))
    else:
        layout = np.asarray((_umap if method == "umap" else _tsne)(vectors, seed), np.float64)
    low, high = np.percentile(layout, [1, 99], axis=0)
    span = np.where(high > low, high - low, 1.0)
    return np.clip((layout - low) / span, 0.0, 1.0).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class Cells:
    """The occupied cells of a grid over a layout.

    Attributes:
        cells: int32 `(M, 2)`, each cell's `(row, column)`; row 0 is the top (largest y).
        members: for each cell, the int64 indices of the vectors that fall in it.
        density: int32 `(grid, grid)`, vectors per cell, empty ones included.
    """

    cells: np.ndarray
    members: list
    density: np.ndarray


def bin_layout(layout, grid, min_density):
    """Bins a unit-square layout into `grid × grid` cells, keeping those with at least
    `min_density` vectors, in row-major order."""
    columns = np.minimum((layout[:, 0] * grid).astype(np.int64), grid - 1)
    rows = grid - 1 - np.minimum((layout[:, 1] * grid).astype(np.int64), grid - 1)
    flat = rows * grid + columns
    density = np.bincount(flat, minlength=grid * grid).reshape(grid, grid).astype(np.int32)
    order = np.argsort(flat, kind="stable")
    starts = np.searchsorted(flat[order], np.arange(grid * grid + 1))
    kept = np.flatnonzero(density.ravel() >= min_density)
    return Cells(
        cells=np.stack([kept // grid, kept % grid], axis=1).astype(np.int32),
        members=[order[starts[c]:starts[c + 1]] for c in kept],
        density=density,
    )
