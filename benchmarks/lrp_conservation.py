"""Where LRP's relevance goes on real networks: the share of the explained logit that each
convolution's and dense layer's output holds, for every named composite.

On VGG16, ResNet50 and MobileNetV2 (`weights=None`, each BatchNormalization's moving statistics
set from eight photos, so the random networks score photos differently), for four photos and the
class each predicts, the script reads `keras_vis.lrp(..., return_layers=True)`: the relevance at
every layer's output as a share of the logit, and at the input. Each composite runs as keras_vis
defines its rules (biases left out of z⁺ and αβ), with `zennit_biases=True` (zennit's
convention, biases kept there), and on a copy whose biases and batch-normalization shifts are
zero. Results: benchmarks/results/lrp_conservation.md.

Usage: `python benchmarks/lrp_conservation.py [--quick] [--out PATH]`.
"""

import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _machine import command_line, markdown_table, write_result  # noqa: E402
from occlusion import CALIBRATION_PHOTOS, calibrated, photos  # noqa: E402

APPLICATIONS = ("VGG16", "ResNet50", "MobileNetV2")
FULL = {"size": 224, "photos": ("chelsea", "astronaut", "coffee", "rocket")}
QUICK = {"size": 64, "photos": ("chelsea",)}
# Layers shown one by one: every tenth linear layer, and the last ones.
EVERY = 10


VARIANTS = ("keras_vis", "zennit", "unbiased")
"""The rules as keras_vis defines them, with zennit's biases, and keras_vis' on a copy without
biases."""


def unbiased(model):
    """A copy of `model` whose biases and batch-normalization shifts (beta, moving mean) are
    zero: nothing but ε and the rules themselves can absorb or drop relevance."""
    import keras

    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    for layer in copy.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, variance = layer.get_weights()
            layer.set_weights([gamma, np.zeros_like(beta), np.zeros_like(mean), variance])
        elif getattr(layer, "use_bias", False):
            weights = layer.get_weights()
            layer.set_weights(weights[:-1] + [np.zeros_like(weights[-1])])
    return copy


def measure(application, settings, say):
    import keras_vis

    model = calibrated(application, settings["size"])
    models = {"keras_vis": model, "zennit": model, "unbiased": unbiased(model)}
    images = photos(settings["size"], application, settings["photos"])
    found = {}
    for composite in keras_vis.rules.COMPOSITES:
        for variant in VARIANTS:
            start = time.perf_counter()
            _, layers = keras_vis.lrp(models[variant], images, composite=composite,
                                      normalize=False, return_layers=True,
                                      zennit_biases=variant == "zennit")
            found[(composite, variant)] = layers
            say(f"  {application} {composite} ({variant}): input "
                f"{np.mean(layers.shares[:, -1]):.4f} of the logit "
                f"({time.perf_counter() - start:.1f} s)")
    return found


def summary_table(results):
    header = ["model", "composite", "keras_vis rules (mean, min–max)",
              "zennit biases (mean, min–max)", "keras_vis rules, biases zeroed (mean, min–max)"]
    rows = []
    for application, found in results.items():
        for composite in dict.fromkeys(name for name, _ in found):
            cells = []
            for variant in VARIANTS:
                shares = found[(composite, variant)].shares[:, -1]
                cells.append(f"{shares.mean():.4f} ({shares.min():.4f}–{shares.max():.4f})")
            rows.append([application, composite, *cells])
    return markdown_table(header, rows)


def layer_table(found):
    """The mean share per layer (every `EVERY`-th linear layer, the last three and the input),
    one column per composite, keras_vis' rules."""
    composites = list(dict.fromkeys(c for c, _ in found))
    names = found[(composites[0], "keras_vis")].names
    shown = sorted({*range(0, len(names) - 1, EVERY), *range(max(0, len(names) - 4),
                                                                 len(names))})
    rows = []
    for index in shown:
        rows.append([names[index]] + [
            f"{np.mean(found[(c, 'keras_vis')].shares[:, index]):.4f}" for c in composites])
    return markdown_table(["layer output"] + composites, rows)


def main(argv=None):
    quick, out = command_line(__doc__.splitlines()[0], "lrp_conservation", argv)
    settings = QUICK if quick else FULL
    say = lambda text: print(text, flush=True)  # noqa: E731
    results = {application: measure(application, settings, say) for application in APPLICATIONS}
    sections = [("The input's share of the logit", summary_table(results))]
    sections += [(f"{application}: the share each layer's output holds", layer_table(found))
                 for application, found in results.items()]
    write_result(out, "LRP conservation on real networks", f"""
{len(settings['photos'])} photos ({', '.join(settings['photos'])}) at {settings['size']}², each
explained for the class it is predicted as; `weights=None`, BatchNormalization statistics set from
{len(CALIBRATION_PHOTOS)} photos. A share is the relevance summed over a layer's output divided
by the explained logit: 1 where all of it is there; below 1 where biases or ε absorbed some, or z⁺
and αβ dropped the relevance of outputs with no contribution of their sign; above 1 where αβ's β
term or a negative-share ε division added some. Relevance at the head's own output is the logit
(1.0000). The keras_vis rules leave biases out of z⁺ and αβ; with `zennit_biases=True` they
are kept as zennit keeps them (clamped to each sign) and absorb relevance. VGG16's biases are
zero as Keras builds it (it has no batch normalization), so its first two columns agree.
""", sections)
    say(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
