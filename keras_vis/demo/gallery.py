"""Regenerates the README gallery: pictures the package makes of the bundled demo model.

Run `python -m keras_vis.demo.gallery docs/gallery` (or `make gallery`). The pictures are computed
from generated test images with fixed seeds, so a rerun on the same versions gives the same files;
each file is written atomically.
"""

import argparse
import io
import pathlib
import sys

import numpy as np
from PIL import Image

from keras_vis import demo, plot
from keras_vis.demo import shapes
from keras_vis.demo.atlas import load_atlas
from keras_vis.io import atomic_write
from keras_vis.report import techniques
from keras_vis.report.methods import group
from keras_vis.report.pictures import figure_png
from keras_vis.report.settings import Settings
from keras_vis.report.subject import make_subject

# Generated test images (a seed never used in training) and the three shown.
IMAGES_SEED = 2025
SHOWN = 3
SETTINGS = Settings(display_size=96, feature_channels=8, maximize_filters=16, maximize_steps=128,
                    class_steps=256, smooth_samples=32, ig_steps=64, progress=False)
DPI = 64


def subject():
    """The demo model and three generated images, one per class shown."""
    images, labels, _ = shapes(SHOWN * 8, seed=IMAGES_SEED)
    chosen = list(dict.fromkeys(labels.tolist()))[:SHOWN]
    picked = [int(np.flatnonzero(labels == label)[0]) for label in chosen]
    names = [demo.CLASS_NAMES[label] for label in chosen]
    return make_subject(demo.load_model(), images[picked], names=names,
                        class_names=demo.CLASS_NAMES, model_name="demo")


def figures(explained):
    """`{file name: figure}` of every gallery picture."""
    settings = SETTINGS
    maximized = techniques.maximization_pictures(explained, settings)
    channels, classes = maximized[0], maximized[1:]
    saliency, _ = techniques.attribution_pictures(explained, settings, None,
                                                   [m.name for m in group("saliency")])
    cams, skipped = techniques.attribution_pictures(explained, settings, None,
                                                    [m.name for m in group("cam")])
    if skipped:
        raise ValueError(f"The demo model should support every CAM method: {skipped}")
    relevance, _ = techniques.attribution_pictures(explained, settings, None,
                                                   [m.name for m in group("lrp")])
    occluded, _ = techniques.family_pictures(explained, settings, None, "occlusion")
    deconv = techniques.deconv_pictures(explained, settings)
    return {
        "filters.png": techniques.filter_pictures(explained, settings)[0].content,
        "feature_maps.png": techniques.feature_pictures(explained, settings)[0].content,
        "maximize_channels.png": channels.content,
        "maximize_classes.png": plot.grid([p.content for p in classes], cols=len(classes),
                                          titles=[p.title for p in classes], tile_size=1.6),
        "saliency.png": techniques.overview(explained, settings, saliency, tile_size=1.5),
        "cam.png": techniques.overview(explained, settings, cams, tile_size=1.5),
        "relevance.png": techniques.overview(explained, settings, relevance, tile_size=1.5),
        "occlusion_deconvnet.png": techniques.overview(explained, settings, occluded + deconv,
                                                       tile_size=1.5),
        "atlas.png": plot.atlas(load_atlas(), size=9),
    }


def palette_png(figure):
    """The figure as a 256-colour PNG: a third of the bytes, no visible change at this size."""
    image = Image.open(io.BytesIO(figure_png(figure, dpi=DPI))).convert("RGB")
    buffer = io.BytesIO()
    image.quantize(256, method=Image.Quantize.FASTOCTREE).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def main(argv=None):
    """Writes the gallery into the folder given on the command line; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default="docs/gallery", help="output folder")
    folder = pathlib.Path(parser.parse_args(argv).folder)
    for name, figure in figures(subject()).items():
        data = palette_png(figure)
        with atomic_write(folder / name, "wb") as file:
            file.write(data)
        print(f"{folder / name} ({len(data) / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
