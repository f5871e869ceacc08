"""Incremental occlusion: keras_vis' incremental maps against its batched whole passes and xplique.

On VGG16, ResNet50 and MobileNetV2 (`weights=None`, 224×224, one photo: scikit-image's
`chelsea`, preprocessed for each model), for patch 14 stride 14 (256 copies) and patch 16 stride 8
(729 copies), the script times, side by side in one run:

- `keras_vis.occlusion(..., incremental=False)`: one whole forward pass per copy, batched by 64
  (the path of earlier versions, at 0.99× the raw-TensorFlow batched forwards:
  `benchmarks/results/attribution.md`);
- `keras_vis.occlusion(..., incremental=True)`: the exact incremental maps;
- `keras_vis.occlusion(..., approximate=0.5)`: Krypton's projective-field threshold τ = 0.5;
- xplique's `Occlusion` (same patch, stride, fill and batch size), where installed.

Each map is checked against the whole passes' map: the largest difference relative to the map's
range, the mean one, and the correlation. Each row also gives the speed-up the layers' own costs
allow: every layer's time in a whole pass, measured with TensorFlow's profiler, times the share of
its map its region covers, plus the rest of the network whole. For the rows under target, the time
of each stage, in the whole passes and in the incremental maps (profiled too), shows where the
time goes. The demo model's convolutions (trained) give the approximation's error on a network that
has learnt something.

Usage: `python benchmarks/occlusion.py [--quick] [--out PATH]`. Results:
benchmarks/results/occlusion.md.
"""

import argparse
import collections
import glob
import os
import pathlib
import re
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _machine import markdown_table, write_result  # noqa: E402
from _peers import installed  # noqa: E402

FULL = {"size": 224, "models": ("VGG16", "ResNet50", "MobileNetV2"),
        "settings": ((14, 14), (16, 8)), "repeats": 1, "incremental_repeats": 3}
QUICK = {"size": 64, "models": ("VGG16",), "settings": ((8, 8),), "repeats": 1,
         "incremental_repeats": 1}
BATCH_SIZE = 64  # keras_vis' default
TAU = 0.5
EXACT_TARGET = 3.0
APPROXIMATE_TARGET = 8.0
FILL = 0.0  # the dataset mean, in every model's preprocessed units
CLASS = 281  # any class: the weights are random
CALIBRATION_PHOTOS = ("chelsea", "astronaut", "coffee", "rocket", "cat", "immunohistochemistry",
                      "hubble_deep_field", "retina")
PROFILED_COPIES = 64  # one batch: each layer's share of a whole pass's time


def preprocess(application):
    import keras

    return {"VGG16": keras.applications.vgg16, "ResNet50": keras.applications.resnet50,
            "MobileNetV2": keras.applications.mobilenet_v2}[application].preprocess_input


def photos(size, application, names=("chelsea",)):
    """scikit-image's sample photos, resized and preprocessed for `application`."""
    import skimage.data
    import skimage.transform

    images = [skimage.transform.resize(getattr(skimage.data, name)(), (size, size),
                                       preserve_range=True) for name in names]
    return preprocess(application)(np.stack(images).astype(np.float32))


def calibrated(application, size):
    """The application with `weights=None` and, where it has BatchNormalization, each layer's
    moving statistics set to those of eight photos: with the initial ones (mean 0, variance 1)
    the activations of a random network fade through the layers, and MobileNetV2's scores come
    out constant."""
    import keras

    keras.utils.set_random_seed(0)
    model = getattr(keras.applications, application)(weights=None,
                                                     input_shape=(size, size, 3))
    norms = [layer for layer in model.layers
             if isinstance(layer, keras.layers.BatchNormalization)]
    for layer in norms:
        layer.momentum = 0.0  # the moving statistics become this batch's
    if norms:
        model(photos(size, application, CALIBRATION_PHOTOS), training=True)
    return model


def timed(function, repeats):
    """Median wall seconds of `function()` over `repeats` runs, and its last result."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), result


def errors(reference, approximate):
    spread = float(np.ptp(reference))
    if spread == 0:
        raise ValueError("the whole passes' map is constant: its errors cannot be relative")
    difference = np.abs(np.asarray(approximate, np.float64) - reference)
    correlation = float(np.corrcoef(reference.ravel(), np.ravel(approximate))[0, 1])
    return difference.max() / spread, difference.mean() / spread, correlation


def regions_of(model, image_shape, patch, stride, approximate):
    """The local part of `model` and the changed regions of its maps for this setting."""
    from keras_vis.attribution.occlusion import patch_positions
    from keras_vis.incremental._graph import local_part
    from keras_vis.incremental._regions import propagate

    part = local_part(model, image_shape)
    rows = patch_positions(image_shape[0], patch, stride)
    cols = patch_positions(image_shape[1], patch, stride)
    corners = np.stack(np.meshgrid(rows, cols, indexing="ij"), -1).reshape(-1, 2)
    return part, propagate(part, corners, (patch, patch), approximate)


def op_seconds(function):
    """Runs `function()` once under TensorFlow's profiler: the seconds of each op it ran,
    summed over the threads that run ops, keyed by the op's name."""
    import tensorflow as tf
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        try:
            function()
        finally:
            tf.profiler.experimental.stop()
        (path,) = glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True)
        with open(path, "rb") as handle:
            space.ParseFromString(handle.read())
    seconds = collections.Counter()
    for plane in space.planes:
        names = {key: value.name for key, value in plane.event_metadata.items()}
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                name = names.get(event.metadata_id, "")
                if re.fullmatch(r"[^:]+:[^:]+", name):  # an op, "scope/name:Type"; the
                    seconds[name.split(":")[0]] += event.duration_ps / 1e12  # executor's "A::B"
    return seconds


def layer_seconds(model, function):
    """Profiles `function()`: the seconds of each of `model`'s layers (the ops in its name
    scope), and those of every other op under the key `None`."""
    names = {layer.name for layer in model.layers}
    totals = collections.Counter()
    for op, seconds in op_seconds(function).items():
        scope = op.split("/")[0]
        if scope not in names:
            scope = re.sub(r"_\d+$", "", scope)  # a traced call's scope: the name and a count
        totals[scope if scope in names else None] += seconds
    return totals


def time_bound(part, regions, whole):
    """The speed-up over whole passes that the layers' measured costs allow: each local layer
    costs its time in a whole pass (`whole`, from `layer_seconds`) times the share of its map its
    region covers; everything else (the rest of the network, the score) costs its whole time."""
    total = sum(whole.values())
    local = [node.layer.name for node in part.nodes[1:]]
    redone = total - sum(whole[name] for name in local)
    redone += sum(whole[node.layer.name] * h * w / (node.shape[0] * node.shape[1])
                  for node, (h, w) in zip(part.nodes[1:], regions.sizes[1:]))
    return total / redone


def stage_of(name):
    found = re.search(r"(conv\d|block_?\d+|expanded_conv|Conv1|Conv_1)", name)
    return found.group(1) if found else "other"


def stage_table(part, regions, whole, incremental, copies):
    """Per stage: its share of a whole pass's time, the share of its maps the regions cover,
    the time per copy that leaves, and the time per copy the incremental maps measured."""
    total = sum(whole.values())
    share, bound, measured = (collections.Counter() for _ in range(3))
    local = {node.layer.name for node in part.nodes[1:]}
    for node, (h, w) in zip(part.nodes[1:], regions.sizes[1:]):
        stage = stage_of(node.layer.name)
        share[stage] += whole[node.layer.name] / total
        bound[stage] += whole[node.layer.name] / total * h * w / (node.shape[0] * node.shape[1])
    scale = PROFILED_COPIES / copies / total  # the incremental run's seconds as whole passes
    rest_share = 1 - sum(share.values())
    rest_measured = sum(s for name, s in incremental.items() if name and name not in local)
    for name, seconds in incremental.items():
        if name in local:
            measured[stage_of(name)] += seconds * scale
    percent = lambda value: f"{value:.1%}"  # noqa: E731
    rows = [[stage, percent(share[stage]), f"{bound[stage] / share[stage]:.0%}",
             percent(bound[stage]), percent(measured[stage])] for stage in share]
    rows.append(["rest (whole: global pooling / Flatten, Dense, the score)", percent(rest_share),
                 "100%", percent(rest_share), percent(rest_measured * scale)])
    assembly = incremental[None] * scale
    rows.append(["gathering and pasting the regions", "–", "–", "–", percent(assembly)])
    redone = sum(bound.values()) + rest_share
    spent = sum(incremental.values()) * scale
    layers = sum(measured.values())
    covered = [stage for stage in share if bound[stage] >= 0.8 * share[stage]]
    whole_share = sum(share[stage] for stage in covered) + rest_share
    text = ("Shares of a whole pass's time per copy (TensorFlow's profiler, the ops summed per "
            "layer). " + (f"The stages whose regions cover at least 80% of their maps "
                          f"({', '.join(covered)}) and the rest of the network take "
                          f"{whole_share:.0%} of a whole pass; in all, " if covered else
                          f"The rest of the network takes {rest_share:.0%} of a whole pass; in "
                          "all, ") +
            f"each copy still has {redone:.0%} of a whole pass's layer time to do, a bound of "
            f"{1 / redone:.1f}×. The incremental maps' ops took {spent:.0%} ({1 / spent:.1f}× in "
            f"op time, summed over the threads, which the wall time of the first table need not "
            f"follow): the layers {layers / sum(bound.values()):.2f}× the time their regions' "
            f"share of the whole passes predicts, and {assembly:.0%} went to gathering and "
            "pasting regions. A layer's reach grows the region by its kernel each time, so by the "
            "deep, small maps an exact region covers them whole; the approximation cuts exactly "
            "those maps.")
    table = markdown_table(["stage", "share of a whole pass", "recomputed per copy",
                            "bound: time per copy", "measured: time per copy"], rows)
    return f"{table}\n\n{text}"


def xplique_occlusion(model, x, patch, stride):
    from xplique.attributions import Occlusion

    explainer = Occlusion(model, batch_size=BATCH_SIZE, patch_size=patch, patch_stride=stride,
                          occlusion_value=FILL)
    targets = np.eye(model.outputs[0].shape[-1], dtype=np.float32)[[CLASS]]
    return lambda: np.asarray(explainer.explain(x, targets))


def measure(application, settings, say):
    from keras_vis.attribution import occlusion

    model = calibrated(application, settings["size"])
    x = photos(settings["size"], application)
    peers = installed()
    # Each layer's share of a whole pass's time, from one profiled batch of whole passes.
    side = settings["size"] // int(np.sqrt(PROFILED_COPIES))
    one_batch = lambda: occlusion(model, x, CLASS, incremental=False, patch=side,  # noqa: E731
                                  stride=side, fill=FILL, normalize=False, progress=False)
    one_batch()
    whole = layer_seconds(model, one_batch)
    rows, stages, explained = [], {}, set()
    for patch, stride in settings["settings"]:
        common = dict(patch=patch, stride=stride, fill=FILL, normalize=False, progress=False)
        run = {
            "whole": lambda: occlusion(model, x, CLASS, incremental=False, **common),
            "exact": lambda: occlusion(model, x, CLASS, incremental=True, **common),
            "approximate": lambda: occlusion(model, x, CLASS, incremental=True,
                                             approximate=TAU, **common),
        }
        run["exact"](), run["approximate"]()  # warm-up: tracing
        seconds, maps = {}, {}
        for name in ("exact", "approximate", "whole"):
            repeats = settings["repeats" if name == "whole" else "incremental_repeats"]
            seconds[name], maps[name] = timed(run[name], repeats)
            say(f"{application} {patch}/{stride} {name}: {seconds[name]:.2f} s")
        xplique = "–"
        if "xplique" in peers:
            explain = xplique_occlusion(model, x, patch, stride)
            explain()
            peer_seconds, _ = timed(explain, settings["repeats"])
            xplique = f"{peer_seconds:.2f} ({peer_seconds / seconds['exact']:.1f}×)"
            say(f"{application} {patch}/{stride} xplique: {peer_seconds:.2f} s")
        exact_error = errors(maps["whole"], maps["exact"])[0]
        rough = errors(maps["whole"], maps["approximate"])
        cells = [application, f"{patch} / {stride}", None, f"{seconds['whole']:.2f}"]
        for name, tau, target in (("exact", None, EXACT_TARGET),
                                  ("approximate", TAU, APPROXIMATE_TARGET)):
            part, regions = regions_of(model, x.shape[1:], patch, stride, tau)
            cells[2] = len(regions.starts)
            speedup = seconds["whole"] / seconds[name]
            verdict = "PASS" if speedup >= target else "**MISS**"
            cells += [f"{seconds[name]:.2f}", f"**{speedup:.1f}×** (≤ "
                      f"{time_bound(part, regions, whole):.1f}×) {verdict}"]
            cells.append(f"{exact_error:.1e}" if tau is None else
                         f"{rough[0]:.3f} / {rough[1]:.4f} / {rough[2]:.3f}")
            if verdict != "PASS" and name not in explained:  # the first setting under target
                explained.add(name)
                profiled = layer_seconds(model, run[name])
                heading = (f"Where {application}'s time goes ({name}, patch {patch} "
                           f"stride {stride})")
                stages[heading] = stage_table(part, regions, whole, profiled, len(regions.starts))
        rows.append(cells + [xplique])
    return rows, stages


def demo_errors(say):
    """The approximation's error and speed-up on the demo model's trained convolutions."""
    import keras

    import keras_vis
    from keras_vis.attribution import occlusion

    model = keras_vis.demo.load_model()
    start = model.get_layer("block1_conv1")
    trunk = keras.Model(start.input, model.outputs[0], name="demo_trunk")
    x = keras.Model(model.inputs, start.input)([keras_vis.demo.sample_batch()]).numpy()
    common = dict(patch=8, stride=4, fill=0.0, normalize=False, logits=True, progress=False)
    whole_passes = lambda: occlusion(trunk, x, incremental=False, **common)  # noqa: E731
    whole = whole_passes()
    profiled = layer_seconds(trunk, whole_passes)
    rows = []
    for tau in (None, 0.75, 0.5, 0.25):
        options = dict(incremental=True, approximate=tau, **common)
        occlusion(trunk, x, **options)
        seconds, maps = timed(lambda: occlusion(trunk, x, **options), 3)
        per_image = [errors(w, m) for w, m in zip(whole, maps) if np.ptp(w) > 0]
        worst = max(e[0] for e in per_image), np.mean([e[1] for e in per_image])
        correlation = min(e[2] for e in per_image)
        bound = time_bound(*regions_of(trunk, x.shape[1:], 8, 4, tau), profiled)
        rows.append(["exact" if tau is None else f"τ = {tau}", f"{bound:.1f}×", f"{seconds:.2f}",
                     f"{worst[0]:.3f}", f"{worst[1]:.4f}", f"{correlation:.3f}"])
        say(f"demo τ={tau}: {seconds:.2f} s")
    header = ["maps", "bound", f"keras_vis (s, {len(x)} images)",
              "max error / range (worst image)", "mean error / range", "lowest correlation"]
    return markdown_table(header, rows), len(x)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--out", default=str(HERE / "results" / "occlusion.md"))
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    say = lambda message: print(message, flush=True)  # noqa: E731
    began = time.perf_counter()
    load_before = os.getloadavg()
    rows, stages = [], {}
    for application in settings["models"]:
        found, explained = measure(application, settings, say)
        rows += found
        stages.update(explained)
    demo_table, demo_count = demo_errors(say)
    minutes = (time.perf_counter() - began) / 60
    peers = installed()
    header = ["model", "patch / stride", "copies", "whole passes (s)", "incremental exact (s)",
              "exact speed-up (bound)", "exact error / range",
              f"approximate τ = {TAU} (s)", "approximate speed-up (bound)",
              "approximate error / range: max / mean / correlation",
              "xplique (s, exact speed-up over it)"]
    intro = f"""
Generated by `python benchmarks/occlusion.py{' --quick' if args.quick else ''}` in {minutes:.1f}
minutes. Load average (1, 5, 15 min) at the start {', '.join(f'{v:.2f}' for v in load_before)}, at
the end {', '.join(f'{v:.2f}' for v in os.getloadavg())}. Peers: {', '.join(f'{k} {v}' for k, v in
peers.items()) or 'none installed'}. No GPU was lent for this run: the table is CPU-only.

One {settings['size']}² photo (scikit-image's `chelsea`, each model's `preprocess_input`), models
with `weights=None` (pretrained weights cannot be downloaded here; ResNet50's and MobileNetV2's
BatchNormalization statistics are set from eight of scikit-image's photos, else a random
MobileNetV2 scores every copy the same) and their softmax heads; class
{CLASS} scored as a probability (keras_vis' default), fill {FILL} (the dataset mean in the
preprocessed units), batches of {BATCH_SIZE} copies for every contender. Seconds of wall time, the
median of {settings['incremental_repeats']} runs for keras_vis' incremental maps and
{settings['repeats']} run for the whole passes and xplique (each run is tens of seconds), after an
untimed warm-up (tracing). Errors compare each map with the whole passes' map (xplique's map is
its score drop and is not compared). The bound is the speed-up the layers' own costs allow: each
local layer's time in a whole pass (TensorFlow's profiler over one batch of {PROFILED_COPIES} whole
passes, its ops summed) times the share of its map its region covers, the rest of the network
(from the first global pooling or Flatten) and the score whole. The gap to it is the gathering and
pasting of regions; the tables after the first show, for the rows under target, both per stage.

Targets: exact ≥ {EXACT_TARGET:.0f}× and approximate (τ = {TAU}) ≥ {APPROXIMATE_TARGET:.0f}× the
whole passes on VGG16; ResNet50 and MobileNetV2 are reported as they come.
"""
    sections = [("Speed and error", markdown_table(header, rows))]
    sections += list(stages.items())
    sections.append((f"The approximation on a trained network (the demo model's convolutions, "
                     f"64², patch 8 stride 4, {demo_count} images)", demo_table + """

The demo model standardizes each image over its rows and columns before its first convolution,
a global operation, so its convolutions are taken from their input on (the standardized sample
images), the predicted class's logit scored. Errors are per image, against the whole passes' map:
the worst image's largest difference relative to its map's range, the mean difference, the
lowest correlation. The error depends on the network and on how far its maps are cut: the table
above is of random weights, this one of trained ones."""))
    write_result(args.out, "Incremental occlusion", intro, sections)
    say(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
