"""The demo model's bundled activation atlas, and the recipe that makes it.

    python -m keras_vis.demo.atlas        # rewrites keras_vis/demo/shapes_atlas.npz

It is the atlas of `LAST_CONV_LAYER` over `ATLAS_IMAGES` generated shapes (a seed the model was
not trained on), so the report and the explorer show one without computing it.
"""

import argparse
import os
import time

from keras_vis.atlas import Atlas, activation_atlas
from keras_vis.demo import (CLASS_NAMES, INPUT_SIZE, LAST_CONV_LAYER, load_model,
                            require_file)
from keras_vis.demo.shapes import shapes

ATLAS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "shapes_atlas.npz")
"""Path of the bundled atlas file."""
ATLAS_IMAGES = 2000
"""How many generated images the atlas is made of."""
ATLAS_DATA_SEED = 7
"""Seed of those images (`shapes(ATLAS_IMAGES, seed=ATLAS_DATA_SEED)`)."""
ATLAS_SEED = 0
"""Seed of the atlas itself: sampling, layout and render."""


def atlas_images():
    """The `(images, labels, masks)` the bundled atlas is made of."""
    return shapes(ATLAS_IMAGES, size=INPUT_SIZE, seed=ATLAS_DATA_SEED)


def build_atlas(model=None, progress=True):
    """Computes the demo atlas: 20×20 cells over the last convolution, in about a minute on two
    CPU cores.

    Args:
        model: the demo model; loaded when `None`.
        progress: show progress bars.

    Returns:
        An `Atlas`.
    """
    model = load_model() if model is None else model
    return activation_atlas(model, atlas_images(), LAST_CONV_LAYER, grid=20,
                            class_names=CLASS_NAMES, seed=ATLAS_SEED, progress=progress)


def load_atlas(path=ATLAS_PATH):
    """Loads the bundled demo atlas (`python -m keras_vis.demo.atlas` makes it).

    Raises:
        FileNotFoundError: if the file does not exist.
    """
    require_file(path, "the demo atlas", "keras_vis.demo.atlas")
    return Atlas.load(path)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Rewrite the demo model's bundled atlas.")
    parser.add_argument("--out", default=ATLAS_PATH, help="the .npz file to write")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    atlas = build_atlas()
    path = atlas.save(args.out)
    print(f"{path}: {atlas} in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
