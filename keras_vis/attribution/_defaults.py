"""Default settings of every attribution method, kept in one place.

The public signatures read their defaults from here, so `help()` shows the values and a change is
made once; the work sizes users tune come from `keras_vis.registry.DEFAULTS`, which the report and
the command line read too.
"""

from keras_vis.registry import DEFAULTS, LRP_COMPOSITES

BATCH_SIZE = DEFAULTS["batch_size"]
"""Images per compiled call for the gradient methods and CAM."""

SALIENCY_METHOD = "vanilla"
SALIENCY_REDUCE = "max_abs"
"""Saliency collapses the colour axis with the largest absolute gradient (Simonyan et al.)."""

SIGNED_REDUCE = "abs_sum"
"""Gradient×input and integrated gradients: the sum of absolute values over the colour axis."""

SMOOTH_SAMPLES = 0
"""`saliency` adds no noisy copies unless asked; the SmoothGrad method of the registry (and the
report, `--smooth-samples`) averages `DEFAULTS["smooth_samples"]` of them."""
SMOOTH_NOISE = 0.15
"""SmoothGrad noise standard deviation, as a fraction of each image's value range."""

IG_STEPS = DEFAULTS["ig_steps"]

LRP_COMPOSITE = LRP_COMPOSITES[0]
LRP_EPSILON = 1e-6
LRP_GAMMA = 0.25
RELEVANCE_REDUCE = "sum"
"""Relevance and contributions keep their sign: the signed sum over the colour axis."""

SHAP_SAMPLES = DEFAULTS["shap_samples"]

CAM_METHOD = "gradcam"

OCCLUSION_PATCH = None
"""An eighth of the image's shorter side (at least 4): `keras_vis.attribution.occlusion
.default_patch`, as the report and the command line draw it."""
OCCLUSION_STRIDE = None
"""Half the patch (at least 1)."""
OCCLUSION_FILL = 0.5
OCCLUSION_BATCH_SIZE = 64
OCCLUSION_THRESHOLD = DEFAULTS["occlusion_threshold"]

RISE_MASKS = DEFAULTS["rise_masks"]
RISE_CELL = 8
"""RISE's grid cells per side (the paper's 7×7 for 224² images; 8 here)."""
RISE_KEEP = 0.5
"""The probability that a RISE grid cell is on (the paper's `p`)."""
RISE_BATCH_SIZE = 64
