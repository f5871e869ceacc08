"""What a default call costs: every registered method with its defaults on a 224² ImageNet network.

The defaults of the methods' work sizes (`keras_vis.registry.DEFAULTS`: SmoothGrad samples,
integrated-gradients steps, GradientSHAP samples, Score-CAM channels, RISE masks) are one setting
for the Python API, the report and the command line. They are chosen so that a default call
explains an image of a 224² network within seconds on a CPU. For MobileNetV2 at 224²
(`weights=None`, BatchNormalization statistics set from photos), the script times each method's
default call on three photos, after one untimed call that absorbs tracing. Results:
benchmarks/results/defaults.md.

Usage: `python benchmarks/defaults.py [--quick] [--out PATH]`.
"""

import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _machine import command_line, markdown_table, write_result  # noqa: E402
from occlusion import calibrated, photos  # noqa: E402

FULL = {"application": "MobileNetV2", "size": 224, "photos": ("chelsea", "astronaut", "coffee")}
QUICK = {"application": "MobileNetV2", "size": 64, "photos": ("chelsea",)}
PER_IMAGE_TARGET = 10.0
"""Seconds per image a default call should stay within on a CPU."""


def measure(settings, say):
    import warnings

    from keras_vis import registry

    model = calibrated(settings["application"], settings["size"])
    images = photos(settings["size"], settings["application"], settings["photos"])
    rows = []
    for spec in registry.METHODS:
        function, options = spec.load(), dict(spec.defaults)
        if "progress" in function.__code__.co_varnames:
            options["progress"] = False
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                function(model, images[:1], None, **options)  # traces
            except ValueError as error:  # a method that does not apply (CAM's head)
                say(f"  {spec.name}: not applicable ({str(error)[:60]}...)")
                continue
            start = time.perf_counter()
            function(model, images, None, **options)
            seconds = time.perf_counter() - start
        per_image = seconds / len(images)
        say(f"  {spec.name}: {seconds:.2f} s for {len(images)} images")
        rows.append([spec.name, _work(spec), f"{seconds:.2f}", f"{per_image:.2f}",
                     "PASS" if per_image <= PER_IMAGE_TARGET else "**MISS**"])
    return rows


def _work(spec):
    """The work size a method's default call does, in words."""
    from keras_vis.registry import DEFAULTS

    sizes = {"smoothgrad": f"{DEFAULTS['smooth_samples']} samples",
             "integrated_gradients": f"{DEFAULTS['ig_steps']} steps",
             "gradient_shap": f"{DEFAULTS['shap_samples']} samples",
             "scorecam": f"{DEFAULTS['score_cam_maps']} channels",
             "rise": f"{DEFAULTS['rise_masks']} masks",
             "occlusion": "patch an eighth of the image, stride half of it"}
    return sizes.get(spec.name, "")


def main(argv=None):
    quick, out = command_line(__doc__.splitlines()[0], "defaults", argv)
    settings = QUICK if quick else FULL
    say = lambda text: print(text, flush=True)  # noqa: E731
    rows = measure(settings, say)
    table = markdown_table(["method", "work", f"{len(settings['photos'])} images (s)",
                            "per image (s)", f"≤ {PER_IMAGE_TARGET:g} s per image"], rows)
    write_result(out, "What a default call costs", f"""
Every registered method called with its defaults on {len(settings['photos'])} photos of
{settings['size']}² for {settings['application']} (`weights=None`, BatchNormalization statistics
set from photos), after one untimed call that absorbs tracing. The work sizes are
`keras_vis.registry.DEFAULTS`, which the Python API, the report and the command line share.
""", [("Seconds per default call", table)])
    say(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
