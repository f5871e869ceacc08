"""Default settings of every attribution method, kept in one place.

The public signatures read their defaults from here, so `help()` shows the values and a change is
made once.
"""

BATCH_SIZE = 32
"""Images per compiled call for the gradient methods and CAM."""

SALIENCY_METHOD = "vanilla"
SALIENCY_REDUCE = "max_abs"
"""Saliency collapses the colour axis with the largest absolute gradient (Simonyan et al.)."""

SIGNED_REDUCE = "abs_sum"
"""Gradient×input and integrated gradients: the sum of absolute values over the colour axis."""

SMOOTH_SAMPLES = 0
SMOOTH_NOISE = 0.15
"""SmoothGrad noise standard deviation, as a fraction of each image's value range."""

IG_STEPS = 50

LRP_COMPOSITE = "epsilon_plus_flat"
LRP_EPSILON = 1e-6
LRP_GAMMA = 0.25
RELEVANCE_REDUCE = "sum"
"""Relevance and contributions keep their sign: the signed sum over the colour axis."""

SHAP_SAMPLES = 32

CAM_METHOD = "gradcam"

OCCLUSION_PATCH = 16
OCCLUSION_STRIDE = 8
OCCLUSION_FILL = 0.5
OCCLUSION_BATCH_SIZE = 64
OCCLUSION_THRESHOLD = 0.85

RISE_MASKS = 2000
RISE_CELL = 8
"""RISE's grid cells per side (the paper's 7×7 for 224² images; 8 here)."""
RISE_KEEP = 0.5
"""The probability that a RISE grid cell is on (the paper's `p`)."""
RISE_BATCH_SIZE = 64
