"""Ablation-CAM speed: keras_vis against a raw-TensorFlow floor that runs the same copies.

Ablation-CAM scores every channel of a layer zeroed in turn. keras_vis runs the layers below the
layer once per image and only the layers above it on the ablated copies. The floor does the same
with plain TensorFlow, written here independently of keras_vis: one compiled forward pass to the
layer, and a `keras.Model` built with the functional API from the layer's output to the logits (on
copies of the layers above it, sharing nothing with the model) that scores the ablated copies, the
same rows in chunks of the same size (each image's intact copy and one copy per channel). The
weights `y - y_k`, the weighted sum, its resize and normalisation follow.

Before timing, the floor's maps are checked against keras_vis' maps (same values to 2e-3 after
normalisation), so the ratio compares the same computation. Times are medians of interleaved
repeats after one untimed warm-up each (tracing), as in `benchmarks/attribution.py`.
Results: benchmarks/results/ablation_cam.md.

Usage: `python benchmarks/ablation_cam.py [--quick] [--out PATH]`.
"""

import argparse
import os
import pathlib
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _machine import markdown_table, write_result  # noqa: E402
from attribution import build_models, check_same, race, resize_maps, small_cnn  # noqa: E402

FULL = {"size": 96, "batch": 4, "repeats": 5, "small_size": 64, "small_batch": 8,
        "small_repeats": 15}
QUICK = {"size": 32, "batch": 1, "repeats": 1, "small_size": 32, "small_batch": 1,
         "small_repeats": 1}
VGG_LAYER = "block5_conv3"
SMALL_LAYER = "last_conv"
BATCH_SIZE = 32  # keras_vis' default rows per compiled call
TARGET = 1.15  # keras_vis / floor


def layers_above(model, layer_name):
    """The layers after `layer_name` in a plain chain model (VGG16, the small CNN), in order."""
    names = [layer.name for layer in model.layers]
    return model.layers[names.index(layer_name) + 1:]


def top_model(model, layer_name):
    """`keras.Model(layer output -> logits)` from copies of the layers above the layer (same
    weights, the last one's softmax dropped)."""
    import keras

    layer = model.get_layer(layer_name)
    inputs = keras.Input(tuple(layer.output.shape[1:]))
    x = inputs
    above = layers_above(model, layer_name)
    for index, original in enumerate(above):
        config = original.get_config()
        if index == len(above) - 1:
            config["activation"] = None
        copy = type(original).from_config(config)
        x = copy(x)
        copy.set_weights(original.get_weights())
    return keras.Model(inputs, x)


class Floor:
    """Raw TensorFlow Ablation-CAM: the layer's forward pass, then the top model on the ablated
    copies, `batch_size` rows per compiled call.

    Args:
        model: the model (softmax head).
        layer_name: the ablated layer.
        batch_size: rows per compiled call.
    """

    def __init__(self, model, layer_name, batch_size):
        import keras
        import tensorflow as tf

        self.batch_size = batch_size
        below = keras.Model(model.inputs[0], model.get_layer(layer_name).output)
        top = top_model(model, layer_name)
        shape = tuple(below.output.shape[1:])
        self.channels = shape[-1]
        self.below = tf.function(lambda x: below(x, training=False), input_signature=[
            tf.TensorSpec((None,) + tuple(model.inputs[0].shape[1:]), tf.float32)])

        @tf.function(input_signature=[tf.TensorSpec((None,) + shape, tf.float32),
                                      tf.TensorSpec((None,), tf.int32),
                                      tf.TensorSpec((None,), tf.int32)])
        def scores(activations, zeroed, classes):
            keep = 1.0 - tf.one_hot(zeroed, self.channels)
            logits = top(activations * keep[:, None, None, :], training=False)
            return tf.gather(logits, classes, axis=1, batch_dims=1)

        self.scores = scores

    def __call__(self, images, classes):
        activations = self.below(images).numpy()
        count, copies = len(images), 1 + self.channels
        rows = np.arange(count * copies)
        image, copy = rows // copies, rows % copies
        table = np.empty(count * copies, np.float32)
        for start in range(0, len(rows), self.batch_size):
            chunk = slice(start, start + self.batch_size)
            zeroed = (copy[chunk] - 1).astype(np.int32)  # -1: the intact copy
            table[chunk] = self.scores(activations[image[chunk]], zeroed,
                                       classes[image[chunk]]).numpy()
        table = table.reshape(count, copies)
        weights = table[:, :1] - table[:, 1:]
        maps = np.maximum(np.einsum("nk,nhwk->nhw", weights, activations), 0.0)
        return resize_maps(maps.astype(np.float32), images.shape[1:3])


def measure(name, model, layer, images, classes, repeats, say):
    from keras_vis.attribution import cam

    floor = Floor(model, layer, BATCH_SIZE)
    contenders = {
        "floor": lambda: floor(images, classes),
        "keras_vis": lambda: cam(model, images, classes, layer=layer, method="ablationcam",
                                 batch_size=BATCH_SIZE, progress=False),
    }
    say(f"  {name}: {', '.join(contenders)}")
    wall, cpu, outputs = race(contenders, repeats)
    error = check_same("ablationcam", outputs["keras_vis"], outputs["floor"])
    say("    " + ", ".join(f"{n} {wall[n]:.3f} s (CPU {cpu[n]:.3f} s)" for n in wall)
        + f"; maps agree to {error:.1e}")
    copies = len(images) * (1 + floor.channels)
    job = (f"{len(images)} images × {floor.channels} channels at `{layer}` ({copies} copies with "
           f"the intact ones), batched by {BATCH_SIZE}")
    return {"model": name, "job": job, "wall": wall, "cpu": cpu}


def table(rows):
    lines = []
    for row in rows:
        wall, cpu = row["wall"], row["cpu"]
        ratio = wall["keras_vis"] / wall["floor"]
        cpu_ratio = cpu["keras_vis"] / cpu["floor"]
        verdict = "PASS" if ratio <= TARGET else "**MISS**" + (
            " (within the target in CPU time: load noise)" if cpu_ratio <= TARGET else "")
        lines.append([row["model"], row["job"], f"{wall['floor']:.3f}", f"{wall['keras_vis']:.3f}",
                      f"{ratio:.2f}× ({cpu_ratio:.2f}×)", f"≤ {TARGET:.2f}×", verdict])
    return markdown_table(["model", "job", "raw TF floor (s)", "keras_vis (s)",
                           "keras_vis / floor (CPU time)", "target", "verdict"], lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke run, seconds)")
    parser.add_argument("--out", help="results file (default: benchmarks/results/ablation_cam.md; "
                                      "a temporary file with --quick)")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    out = args.out or (os.path.join(tempfile.gettempdir(), "keras_vis_ablation_cam_quick.md")
                       if args.quick else str(HERE / "results" / "ablation_cam.md"))
    say = lambda text: print(text, flush=True)  # noqa: E731
    load_before = os.getloadavg()
    began = time.perf_counter()
    rng = np.random.default_rng(0)

    size, count = settings["size"], settings["batch"]
    vgg, _ = build_models(size)
    images = rng.uniform(0, 1, (count, size, size, 3)).astype(np.float32)
    classes = rng.integers(0, 1000, count).astype(np.int32)
    rows = [measure("VGG16", vgg, VGG_LAYER, images, classes, settings["repeats"], say)]
    del vgg

    size, count = settings["small_size"], settings["small_batch"]
    small = small_cnn(size)
    images = rng.uniform(0, 1, (count, size, size, 3)).astype(np.float32)
    # The predicted classes: a random class of an untrained CNN often has an all-zero map.
    classes = small.predict(images, verbose=0).argmax(axis=1).astype(np.int32)
    rows.append(measure("small CNN", small, SMALL_LAYER, images, classes,
                        settings["small_repeats"], say))

    load = [", ".join(f"{v:.2f}" for v in values) for values in (load_before, os.getloadavg())]
    minutes = (time.perf_counter() - began) / 60
    intro = f"""
Generated by `python benchmarks/ablation_cam.py{' --quick' if args.quick else ''}` in
{minutes:.1f} minutes. Load average (1, 5, 15 min) at the start {load[0]}, at the end {load[1]}.

Models: VGG16 (`weights=None`, its 1000-class dense top), {settings['size']}×{settings['size']}×3
input, batch of {settings['batch']}, ablating `{VGG_LAYER}` (the copies run its pooling and the
three dense layers); the small CNN of `benchmarks/attribution.py` (three convolutions, global
average pooling, dense), {settings['small_size']}×{settings['small_size']}×3 input, batch of
{settings['small_batch']}, ablating `{SMALL_LAYER}`. Every channel is ablated (`max_channels=None`),
each image's logit of a fixed class (VGG16) or of its predicted class (small CNN) scored. Every
time is the median of {settings['repeats']} (small CNN: {settings['small_repeats']}) interleaved
runs after one untimed warm-up run (tracing), in seconds of wall time; the ratio's CPU time
(process time, all threads) is far less disturbed by other programs' load. keras_vis is called
through `keras_vis.cam(..., method="ablationcam")` with default options (maps normalised, input
validation included), the floor as described in the script's docstring; before timing, both maps
were checked equal (to 2e-3 after normalisation).
"""
    write_result(out, "Ablation-CAM speed", intro, [("keras_vis against the raw floor",
                                                       table(rows))])
    say(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
