"""The activation atlas of the demo model: time of each stage, class purity of its cells, and the
batched render of every cell against rendering the cells one by one.

The atlas is `keras_vis.activation_atlas` with its defaults (20×20 grid, 2 vectors per image
sampled by activation, UMAP, 128 render steps of 48-pixel icons) over the 2,000 generated shapes
the bundled atlas is made of. The stages are timed separately through the same functions the
atlas calls; the whole call is timed too. Purity: the share of cells with at least 10 vectors
whose most frequent predicted class holds 80% or more of their vectors.

Run: `python benchmarks/atlas.py [--quick]`; writes `benchmarks/results/atlas.md`.
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from keras_vis import demo  # noqa: E402
from keras_vis.atlas import activation_atlas  # noqa: E402
from keras_vis.atlas.collect import collect  # noqa: E402
from keras_vis.atlas.layout import reduce  # noqa: E402
from keras_vis.demo.atlas import atlas_images  # noqa: E402
from keras_vis.maximization import maximize, objectives  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import markdown_table, write_result  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "atlas.md")
TARGET_SECONDS = 180
ONE_BY_ONE_CELLS = 16


def timed(function):
    start, cpu = time.perf_counter(), time.process_time()
    result = function()
    return result, time.perf_counter() - start, time.process_time() - cpu


def purity(atlas):
    dense = atlas.counts >= 10
    return int(dense.sum()), float(np.mean(atlas.class_shares[dense] >= 0.8))


def stage_rows(model, data, steps):
    """The atlas's stages, each timed through the function the atlas calls."""
    layer = model.get_layer(demo.LAST_CONV_LAYER)
    samples, *collect_time = timed(lambda: collect(
        model, data, layer, samples_per_image=2, sampling="activation", batch_size=64,
        preprocess=None, rng=np.random.default_rng(0), progress=False))
    rows = [("read 2,000 images, sample 4,000 vectors", *collect_time)]
    for method in ("umap", "tsne"):
        _, *layout_time = timed(lambda: reduce(samples.vectors, method, 0))
        rows.append((f"2-D layout of the 4,000 vectors, {method}", *layout_time))
    return rows, samples


def render_rows(model, atlas, steps):
    """All cells in one batched `maximize` against the first cells rendered one call each."""
    count = min(ONE_BY_ONE_CELLS, len(atlas.directions))
    options = dict(size=atlas.size, steps=steps, seed=0, param="fourier", decorrelate=True,
                   progress=False)

    def batched():
        return maximize(model, objectives.direction_neuron(
            demo.LAST_CONV_LAYER, atlas.directions, cossim_pow=1.0), **options)

    def one_by_one():
        return [maximize(model, objectives.direction_neuron(
            demo.LAST_CONV_LAYER, vector[None], cossim_pow=1.0), **options)
            for vector in atlas.directions[:count]]

    _, batch_wall, batch_cpu = timed(batched)
    _, single_wall, single_cpu = timed(one_by_one)
    cells = len(atlas.directions)
    return [
        (f"render all {cells} cells, one batched call", batch_wall, batch_cpu,
         f"{batch_wall / cells:.2f}"),
        (f"render {count} cells, one call each", single_wall, single_cpu,
         f"{single_wall / count:.2f}"),
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 images, 8 steps")
    args = parser.parse_args(argv)
    model = demo.load_model()
    data = atlas_images()
    steps = 8 if args.quick else 128
    if args.quick:
        data = tuple(part[:200] for part in data)

    atlas, wall, cpu = timed(lambda: activation_atlas(
        model, data, demo.LAST_CONV_LAYER, steps=steps, class_names=demo.CLASS_NAMES, seed=0,
        progress=False))
    again = activation_atlas(model, data, demo.LAST_CONV_LAYER, steps=steps, seed=0,
                             progress=False)
    same = all(np.array_equal(getattr(atlas, name), getattr(again, name))
               for name in ("layout", "image", "directions"))
    dense, pure = purity(atlas)
    stages, _ = stage_rows(model, data, steps)
    renders = render_rows(model, atlas, steps)

    load = os.getloadavg()[0]
    verdict = "within" if wall < TARGET_SECONDS else "over"
    summary = markdown_table(
        ["images", "vectors", "cells rendered", "wall s", "CPU s", f"target {TARGET_SECONDS} s",
         "cells ≥ 10 vectors", "of them ≥ 80% one class", "same seed, same atlas"],
        [(len(data[0]), len(atlas.layout), len(atlas.cells), f"{wall:.1f}", f"{cpu:.1f}",
          verdict, dense, f"{pure:.0%}", "yes" if same else "NO")])
    stage_table = markdown_table(["stage", "wall s", "CPU s"],
                                 [(name, f"{w:.1f}", f"{c:.1f}") for name, w, c in stages])
    render_table = markdown_table(
        ["render", "wall s", "CPU s", "s per cell"],
        [(name, f"{w:.1f}", f"{c:.1f}", per) for name, w, c, per in renders])
    write_result(
        RESULTS, "Activation atlas of the demo model",
        __doc__.split("\n\n")[1] + f"\n\nLoad average (1 min) at the end: {load:.1f}."
        + (" Quick run (200 images, 8 steps): not the recorded sizes." if args.quick else ""),
        [("The whole atlas (`last_conv`, 20×20)", summary),
         ("Stages", stage_table + "\n\nTimed after the whole atlas, so umap-learn's compilation "
          "(numba, on its first call in a process) is in the whole atlas's time, not here; the "
          "render stage is below."),
         ("Batched render against one call per cell", render_table)],
    )
    print(open(RESULTS).read())
    return 0 if (wall < TARGET_SECONDS or args.quick) and same else 1


if __name__ == "__main__":
    sys.exit(main())
