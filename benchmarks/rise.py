"""RISE speed: `keras_vis.rise` against a raw-TensorFlow floor of the same masked copies.

On VGG16 (`weights=None`) and a small CNN, one batch each, the script times (median of interleaved
repeats after one untimed warm-up run that absorbs tracing):

- the floor: the same masks made beforehand (the grids and shifts keras_vis draws for the seed,
  upsampled here with `tf.image.resize` and cropped, untimed), then the image seen through each
  mask over its mean colour, in image-major chunks of the same batch size through a plain
  `tf.function` forward pass, and the masks weighted by the class probabilities in one matrix
  product, min-max scaled;
- `keras_vis.rise` with the same seed and options, which also makes the masks chunk by chunk.

Before timing, the floor's map is checked equal to keras_vis'. Results: benchmarks/results/rise.md.

Usage: `python benchmarks/rise.py [--quick] [--out PATH]`.
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
from attribution import build_models, race, small_cnn  # noqa: E402

FULL = {"size": 96, "batch": 2, "masks": 128, "repeats": 3,
        "small_size": 64, "small_batch": 4, "small_masks": 1000, "small_repeats": 7}
QUICK = {"size": 32, "batch": 1, "masks": 16, "repeats": 1,
         "small_size": 32, "small_batch": 2, "small_masks": 64, "small_repeats": 1}
CELL = 8
KEEP = 0.5
SEED = 0
BATCH_SIZE = 64  # keras_vis' default for RISE
TARGET = 1.15
ATOL = 2e-3


def premade_masks(count, size):
    """The masks keras_vis draws for `SEED`, made here independently of its upsampling: each grid
    resized bilinearly to `(CELL + 1) * step` pixels per side and cropped at its shift."""
    import tensorflow as tf

    from keras_vis.attribution.rise import MASK_BLOCK, MaskSet

    drawn = MaskSet(count, (CELL, CELL), KEEP, size, SEED)
    blocks = [drawn.block(b) for b in range(-(-count // MASK_BLOCK))]
    grids = np.concatenate([g for g, _ in blocks]).astype(np.float32)
    shifts = np.concatenate([s for _, s in blocks])
    step = -(-size[0] // CELL), -(-size[1] // CELL)
    upsampled = tf.image.resize(grids[..., None], ((CELL + 1) * step[0], (CELL + 1) * step[1]),
                                method="bilinear").numpy()[..., 0]
    return np.stack([big[top:top + size[0], left:left + size[1]]
                     for big, (top, left) in zip(upsampled, shifts)])


def floor_rise(model, images, classes, masks):
    """Raw TensorFlow RISE over premade masks: image-major chunks of `BATCH_SIZE` masked copies
    through one compiled forward pass, then the probability-weighted sum of the masks."""
    import tensorflow as tf

    step = floor_rise.steps.get(id(model))
    if step is None:
        step = tf.function(lambda x: model(x, training=False), input_signature=[
            tf.TensorSpec((None,) + images.shape[1:], tf.float32)])
        floor_rise.steps[id(model)] = step
    count, copies = len(images), len(masks)
    # A full-size fill: numpy broadcasts a (1, 1, C) one over the colour axis about twice as slowly.
    fill = np.ascontiguousarray(np.broadcast_to(images.mean(axis=(1, 2), keepdims=True),
                                                images.shape))
    scores = np.empty(count * copies, np.float32)
    for start in range(0, count * copies, BATCH_SIZE):
        rows = np.arange(start, min(start + BATCH_SIZE, count * copies))
        image, mask = rows // copies, rows % copies
        batch = fill[image] + masks[mask][..., None] * (images[image] - fill[image])
        scores[rows] = step(batch).numpy()[np.arange(len(rows)), classes[image]]
    maps = scores.reshape(count, copies) @ masks.reshape(copies, -1) / (copies * KEEP)
    maps = maps.reshape(images.shape[:3])
    low = maps.min(axis=(1, 2), keepdims=True)
    return (maps - low) / (maps.max(axis=(1, 2), keepdims=True) - low)


floor_rise.steps = {}


def measure(name, model, images, classes, masks, repeats, say):
    """Checks the floor's map against keras_vis', then races them."""
    import keras_vis

    premade = premade_masks(masks, images.shape[1:3])
    contenders = {
        "floor": lambda: floor_rise(model, images, classes, premade),
        "keras_vis": lambda: keras_vis.rise(model, images, classes, masks=masks, cell=CELL,
                                            p=KEEP, seed=SEED, batch_size=BATCH_SIZE,
                                            progress=False),
    }
    say(f"  {name}: {len(images)} images × {masks} masks")
    wall, cpu, outputs = race(contenders, repeats)
    error = float(np.max(np.abs(outputs["floor"] - outputs["keras_vis"])))
    if not error <= ATOL:
        raise AssertionError(f"{name}: keras_vis and the floor differ (max {error:.2e})")
    say("    " + ", ".join(f"{n} {wall[n]:.3f} s (CPU {cpu[n]:.3f} s)" for n in wall))
    return {"name": name, "job": f"{len(images)} images × {masks} masks ({CELL}×{CELL} cells), "
            f"batches of {BATCH_SIZE}", "wall": wall, "cpu": cpu, "error": error}


def table(rows):
    header = ["model", "job", "raw TF floor (s)", "keras_vis (s)", "keras_vis / floor (CPU time)",
              "target", "verdict", "max map difference"]
    lines = []
    for row in rows:
        wall, cpu = row["wall"], row["cpu"]
        ratio = wall["keras_vis"] / wall["floor"]
        lines.append([row["name"], row["job"], f"{wall['floor']:.3f}", f"{wall['keras_vis']:.3f}",
                      f"{ratio:.2f}× ({cpu['keras_vis'] / cpu['floor']:.2f}×)", f"≤ {TARGET:.2f}×",
                      "PASS" if ratio <= TARGET else "**MISS**", f"{row['error']:.1e}"])
    return markdown_table(header, lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke run, seconds)")
    parser.add_argument("--out", help="results file (default: benchmarks/results/rise.md; a "
                                      "temporary file with --quick)")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    out = args.out or (os.path.join(tempfile.gettempdir(), "keras_vis_rise_quick.md")
                       if args.quick else str(HERE / "results" / "rise.md"))
    say = lambda text: print(text, flush=True)  # noqa: E731
    load_before = os.getloadavg()
    began = time.perf_counter()
    rng = np.random.default_rng(0)
    rows = []
    size, count = settings["size"], settings["batch"]
    vgg, _ = build_models(size)
    images = rng.random((count, size, size, 3), dtype=np.float32) * 255 - 120
    rows.append(measure(f"VGG16 ({size}²)", vgg, images, np.arange(count) % 1000,
                        settings["masks"], settings["repeats"], say))
    size, count = settings["small_size"], settings["small_batch"]
    small = small_cnn(size)
    images = rng.random((count, size, size, 3), dtype=np.float32)
    rows.append(measure(f"small CNN ({size}²)", small, images, np.arange(count) % 10,
                        settings["small_masks"], settings["small_repeats"], say))
    load_after = os.getloadavg()
    minutes = (time.perf_counter() - began) / 60
    intro = f"""
Generated by `python benchmarks/rise.py{' --quick' if args.quick else ''}` in {minutes:.1f}
minutes. Load average (1, 5, 15 min) at the start {', '.join(f'{v:.2f}' for v in load_before)}, at
the end {', '.join(f'{v:.2f}' for v in load_after)}.

Models: VGG16 (`weights=None`, softmax head), {settings['size']}²
input, batch of {settings['batch']}; a 5-layer CNN (3 convolutions with 16/32/64 channels, 2 max-pools, global average pooling,
dense softmax), {settings['small_size']}² input, batch of {settings['small_batch']}. Target classes fixed per image; `p={KEEP}`, `cell={CELL}`, `seed={SEED}`, fill the
mean of each image (keras_vis' default), class probabilities scored. Every time is the median of
{settings['repeats']} (small CNN: {settings['small_repeats']}) interleaved runs after one untimed
warm-up run (tracing), in seconds of wall time; the ratio's CPU time (process time, all threads)
is far less disturbed by other programs' load. keras_vis is called through `keras_vis.rise` with
`progress=False` (input validation and normalisation included).

Floor (raw TensorFlow, in this script): the same masks made beforehand, untimed (the grids and
shifts keras_vis draws for the seed, resized with `tf.image.resize` and cropped), then the same
masked copies `fill + m (x - fill)` in image-major chunks of {BATCH_SIZE} through a `tf.function`
forward pass, the probability-weighted sum of the masks as one matrix product, min-max scaled.
keras_vis' ratio therefore includes making the masks chunk by chunk, once per image for its copies
and once more for the weighted sum, which keeps its memory bounded by the batch size. Before timing, the
floor's map was checked equal to keras_vis' (max difference in the table).
"""
    write_result(out, "RISE speed", intro, [("keras_vis.rise against its floor", table(rows))])
    say(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
