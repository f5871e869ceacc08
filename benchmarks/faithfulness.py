"""Faithfulness of every attribution method on the bundled shapes CNN and a generated test set.

For each method: the pointing game and energy pointing against the ground-truth object masks,
deletion and insertion AUC (RISE), and the cascading model-parameter randomization check (Adebayo et
al.), written to benchmarks/results/faithfulness.md.

Usage: `python benchmarks/faithfulness.py [--quick] [--model PATH] [--out PATH]`.
"""

import argparse
import pathlib
import sys
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _machine import markdown_table, write_result  # noqa: E402

# (method name, options): names as accepted by `keras_vis.metrics.randomization_check`.
METHODS = (
    ("saliency", {}),
    ("guided", {}),
    ("deconvnet", {}),
    ("smoothgrad", {}),
    ("gradient_input", {}),
    ("integrated_gradients", {}),
    ("gradcam", {}),
    ("gradcam++", {}),
    ("layercam", {}),
    ("hirescam", {}),
    ("scorecam", {}),
    ("cam", {}),
    ("guided_gradcam", {}),
    ("occlusion", {"fill": 127.5}),  # mid-grey for a model taking 0–255 pixels
)
TEST_SEED = 7  # the demo's test seed: never used for training
FULL = {"images": 200, "steps": 32, "randomization_images": 16}
QUICK = {"images": 24, "steps": 8, "randomization_images": 4}
POINTING_EXPECTED = 0.95


def _load_model(path):
    import keras

    if path is not None:
        return keras.saving.load_model(path, compile=False)
    from keras_vis import demo

    return demo.load_model()


def _reference_maps(masks, rng):
    """Maps that are not explanations, to read the other rows against: noise and the true mask."""
    noise = rng.uniform(size=masks.shape).astype("float32")
    return {"random (reference)": noise,
            "object mask (reference)": masks.astype("float32") + 1e-3 * noise}


def _score(model, images, labels, masks, maps, steps):
    from keras_vis.metrics import deletion, energy_pointing, insertion, pointing_game

    return {
        "pointing": pointing_game(maps, masks).mean,
        "energy": energy_pointing(maps, masks).mean,
        "deletion": deletion(model, images, maps, labels, steps=steps, baseline=0.0).mean_auc,
        "insertion": insertion(model, images, maps, labels, steps=steps).mean_auc,
    }


def _expectations(scores, checks):
    lines = []
    for name in ("gradcam", "scorecam"):
        hit = scores[name]["pointing"]
        verdict = "meets" if hit >= POINTING_EXPECTED else "MISSES"
        lines.append(f"- {name} pointing game {hit:.1%}: {verdict} the expected "
                     f"≥ {POINTING_EXPECTED:.0%}.")
    wanted = {"saliency": True, "gradcam": True, "guided": False}
    for name, should_change in wanted.items():
        result = checks[name]
        changes = result.passed
        agreed = "as published" if changes == should_change else "UNLIKE the published finding"
        lines.append(
            f"- {name}: maps {'change' if changes else 'stay close'} under randomization (rank "
            f"correlation {result.mean_spearman[-1]:.2f} with every layer randomized) — {agreed}."
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few images and steps (smoke run)")
    parser.add_argument("--model", help="a .keras model to use instead of the bundled demo model")
    parser.add_argument("--out", default=str(HERE / "results" / "faithfulness.md"))
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL

    import keras

    from keras_vis.datasets import shapes
    from keras_vis.metrics import randomization_check
    from keras_vis.metrics._methods import resolve_method

    keras.utils.set_random_seed(0)
    model = _load_model(args.model)
    size = model.inputs[0].shape[1]
    images, labels, masks = shapes(sizes["images"], size=size, seed=TEST_SEED)
    images = images.astype("float32")
    predicted = model.predict(images, batch_size=100, verbose=0).argmax(axis=1)
    accuracy = float((predicted == labels).mean())
    print(f"{model.name}: accuracy {accuracy:.1%} on {len(images)} test images", flush=True)

    scores, seconds, checks = {}, {}, {}
    few = slice(0, sizes["randomization_images"])
    for name, options in METHODS:
        explain = resolve_method(name, options, 32)
        explain(model, images[:2], labels[:2])  # trace once, outside the timing
        began = time.perf_counter()
        maps = explain(model, images, labels)
        seconds[name] = time.perf_counter() - began
        scores[name] = _score(model, images, labels, masks, maps, sizes["steps"])
        checks[name] = randomization_check(model, name, images[few], labels[few], **options)
        print(f"{name}: {scores[name]}, {seconds[name]:.1f} s; randomization "
              f"{'passed' if checks[name].passed else 'failed'}", flush=True)
    for name, maps in _reference_maps(masks, np.random.default_rng(0)).items():
        scores[name] = _score(model, images, labels, masks, maps, sizes["steps"])

    rows = [(name, f"{s['pointing']:.1%}", f"{s['energy']:.1%}", f"{s['deletion']:.3f}",
             f"{s['insertion']:.3f}", f"{seconds[name]:.2f}" if name in seconds else "–")
            for name, s in scores.items()]
    localisation = markdown_table(
        ["method", "pointing game ↑", "energy pointing ↑", "deletion AUC ↓", "insertion AUC ↑",
         f"maps of {len(images)} images (s)"], rows)
    steps_names = ["(none)"] + list(next(iter(checks.values())).layers)
    randomization_rows = []
    for name, result in checks.items():
        verdict = "changes (passes)" if result.passed else "stays (fails)"
        correlations = [f"{r:.2f}" for r in result.mean_spearman]
        randomization_rows.append([name] + correlations + [f"{result.mean_ssim[-1]:.2f}", verdict])
    randomization = markdown_table(
        ["method"] + [f"→ {n}" for n in steps_names] + ["SSIM, all randomized", "verdict"],
        randomization_rows)
    intro = f"""
Model: `{model.name}` ({'--model ' + args.model if args.model else 'the bundled demo model'}), test
accuracy {accuracy:.1%} on `keras_vis.datasets.shapes({len(images)}, size={size}, seed={TEST_SEED})`
(a seed never used in training). Every map explains the true label. Generated by
`python benchmarks/faithfulness.py{' --quick' if args.quick else ''}`.

- Pointing game: the map's maximum on the object mask (no tolerance). Energy pointing: share of the
  map's mass on the object.
- Deletion: the label's probability as the top pixels are set to 0 (black); insertion: as they are
  revealed over a Gaussian blur (σ = side/16); {sizes['steps']} steps, AUC over [0, 1].
- Randomization: Spearman rank correlation of the absolute maps with the original ones (mean of
  {sizes['randomization_images']} images) as the layers are re-initialised from the top down,
  cumulatively; "changes" when it drops below 0.5 with every layer randomized.
"""
    sections = [
        ("Localisation and deletion/insertion", localisation),
        ("Cascading randomization (rank correlation with the original maps)", randomization),
        ("Against the expected results", _expectations(scores, checks)),
    ]
    write_result(args.out, "Faithfulness of the attribution methods", intro, sections)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
