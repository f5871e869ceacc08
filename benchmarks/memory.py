"""Peak memory of occlusion and Score-CAM on one 1024×1024 image: bounded by `batch_size`.

Both methods run the model on many altered copies of the image (occluded copies, masked copies);
keras_vis builds and scores them `batch_size` at a time, so peak memory should grow with
`batch_size` and stay flat as the number of copies grows. Each configuration runs in a fresh
subprocess, which builds a small fully-convolutional model, runs one tiny forward pass (so the
TensorFlow runtime is loaded), reads its resident memory (VmRSS), calls the method once and reads
its peak resident memory (VmHWM). The growth of the peak over that baseline is what the call cost.
Results: benchmarks/results/memory.md.

Usage: `python benchmarks/memory.py [--quick] [--out PATH]`.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _machine import markdown_table, write_result  # noqa: E402

FULL = {
    "size": 1024,
    "batch_sizes": (8, 32, 128),
    # (patch, stride) giving 16, 64 and 256 occluded copies of a 1024² image.
    "occlusion": ((256, 256), (128, 128), (64, 64)),
    "scorecam_maps": (32, 128),  # the tapped layer has 128 channels: 32 or 128 masked copies
    "fixed_batch": 8,
}
QUICK = {
    "size": 128,
    "batch_sizes": (2, 8),
    "occlusion": ((64, 64), (32, 32)),
    "scorecam_maps": (4, 16),
    "fixed_batch": 2,
}
CHANNELS = 128
MIB = 2 ** 20


def build_model(size):
    """Three stride-2 convolutions, global average pooling and a softmax (about 0.9 GFLOP per
    1024² image)."""
    import keras

    keras.utils.set_random_seed(0)
    layers = keras.layers
    inputs = keras.Input((size, size, 3))
    x = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inputs)
    x = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.Conv2D(CHANNELS, 3, strides=2, padding="same", activation="relu",
                      name="features")(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def _status_kib(field):
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def child(config):
    """Runs one configuration in this (fresh) process and prints its measurements as JSON."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np

    from keras_vis.attribution import cam, occlusion

    size = config["size"]
    model = build_model(size)
    image = np.random.default_rng(0).uniform(0, 1, (1, size, size, 3)).astype(np.float32)
    model(image, training=False)  # loads the TensorFlow runtime before the baseline
    baseline = _status_kib("VmRSS")
    start = time.perf_counter()
    if config["method"] == "occlusion":
        patch, stride = config["patch"], config["stride"]
        result = occlusion(model, image, 0, patch=patch, stride=stride,
                           batch_size=config["batch_size"])
        copies = (len(range(0, size - patch + 1, stride))) ** 2
    else:
        result = cam(model, image, 0, layer="features", method="scorecam",
                     max_maps=config["max_maps"], batch_size=config["batch_size"])
        copies = config["max_maps"]
    seconds = time.perf_counter() - start
    assert result.shape == (1, size, size) and np.isfinite(result).all()
    peak = _status_kib("VmHWM")
    print(json.dumps({"baseline_kib": baseline, "peak_kib": peak, "copies": copies,
                      "seconds": seconds}))


def measure(config):
    """Runs `config` in a fresh subprocess and returns its measurements."""
    command = [sys.executable, __file__, "--child", json.dumps(config)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=HERE.parent)
    if done.returncode != 0:
        raise RuntimeError(f"{config} failed:\n{done.stderr[-3000:]}")
    return {**config, **json.loads(done.stdout.strip().splitlines()[-1])}


def configurations(settings):
    """Every batch size at the largest copy count, and every copy count at the smallest batch."""
    size, fixed = settings["size"], settings["fixed_batch"]
    runs = []
    for method, variants in (("occlusion", [{"patch": p, "stride": s}
                                            for p, s in settings["occlusion"]]),
                             ("scorecam", [{"max_maps": m} for m in settings["scorecam_maps"]])):
        largest = variants[-1]
        runs += [{"method": method, "size": size, "batch_size": b, **largest}
                 for b in settings["batch_sizes"]]
        runs += [{"method": method, "size": size, "batch_size": fixed, **v} for v in variants[:-1]]
    return runs


def table(results, size):
    copy_mib = size * size * 3 * 4 / MIB
    rows = []
    for r in sorted(results, key=lambda r: (r["method"], r["batch_size"], r["copies"])):
        setting = (f"patch {r['patch']}, stride {r['stride']}" if r["method"] == "occlusion"
                   else f"max_maps={r['max_maps']}")
        growth = (r["peak_kib"] - r["baseline_kib"]) / 1024
        rows.append([r["method"], setting, r["copies"], r["batch_size"],
                     f"{r['baseline_kib'] / 1024:.0f}", f"{r['peak_kib'] / 1024:.0f}",
                     f"{growth:.0f}",
                     f"{growth / (min(r['batch_size'], r['copies']) * copy_mib):.1f}",
                     f"{r['copies'] * copy_mib:.0f}", f"{r['seconds']:.1f}"])
    return markdown_table(
        ["method", "setting", "copies", "batch_size", "baseline RSS (MiB)", "peak RSS (MiB)",
         "peak − baseline (MiB)", "growth per copy in a batch (in image sizes)",
         "the copies alone, all at once (MiB)", "time (s)"], rows)


def verdicts(results):
    """Does the growth follow batch_size, and stay flat across copy counts at a fixed batch?"""
    lines = []
    growth = lambda r: (r["peak_kib"] - r["baseline_kib"]) / 1024  # noqa: E731
    for method in ("occlusion", "scorecam"):
        mine = [r for r in results if r["method"] == method]
        most = max(r["copies"] for r in mine)
        by_batch = sorted((r for r in mine if r["copies"] == most), key=lambda r: r["batch_size"])
        smallest = by_batch[0]["batch_size"]
        by_copies = sorted((r for r in mine if r["batch_size"] == smallest),
                           key=lambda r: r["copies"])
        batch_text = ", ".join(f"{growth(r):.0f} MiB at {r['batch_size']}" for r in by_batch)
        copies_text = ", ".join(f"{growth(r):.0f} MiB for {r['copies']}" for r in by_copies)
        grows = all(growth(a) < growth(b) for a, b in zip(by_batch, by_batch[1:]))
        spread = max(growth(r) for r in by_copies) - min(growth(r) for r in by_copies)
        flat = spread <= max(64.0, 0.25 * growth(by_copies[-1]))
        lines.append(
            f"- {method}: peak growth with batch_size ({most} copies): {batch_text} — "
            f"{'grows with batch_size' if grows else '**does not grow monotonically**'}. "
            f"With copy count (batch_size {smallest}): {copies_text} — "
            f"{'flat (bounded by batch_size)' if flat else '**grows with the copies**'}."
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small image (smoke run)")
    parser.add_argument("--out", help="results file (default: benchmarks/results/memory.md; a "
                                      "temporary file with --quick)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(json.loads(args.child))
        return 0
    settings = QUICK if args.quick else FULL
    out = args.out or (os.path.join(tempfile.gettempdir(), "keras_vis_memory_quick.md")
                       if args.quick else str(HERE / "results" / "memory.md"))
    results = []
    for config in configurations(settings):
        result = measure(config)
        growth = (result["peak_kib"] - result["baseline_kib"]) / 1024
        print(f"{config}: peak − baseline {growth:.0f} MiB, {result['seconds']:.1f} s",
              flush=True)
        results.append(result)
    size = settings["size"]
    intro = f"""
Generated by `python benchmarks/memory.py{' --quick' if args.quick else ''}`. One {size}×{size}×3
float32 image ({size * size * 3 * 4 / MIB:.1f} MiB per copy) through a small fully-convolutional
model (three stride-2 convolutions with 8/16/{CHANNELS} channels, global average pooling, softmax);
Score-CAM taps the {CHANNELS}-channel layer. Each row is a fresh process: baseline = resident
memory after building the model and one forward pass; peak = the process's high-water mark after
one call (`VmHWM`, which also sees TensorFlow's allocations, unlike `tracemalloc`).

Each copy in a batch costs a few times the image's size at the peak: the copy itself, the tensor
TensorFlow makes of it, the convolutions' outputs (and for Score-CAM the upsampled mask). So
`batch_size` sets the peak: about `k × batch_size × H × W × C × 4` bytes with the `k` of the
"growth per copy" column, whatever the number of patches or channels.
"""
    write_result(out, "Peak memory of occlusion and Score-CAM", intro,
                 [("Measurements", table(results, size)), ("Verdict", verdicts(results))])
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
