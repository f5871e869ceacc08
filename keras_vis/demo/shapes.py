"""Synthetic shapes on cluttered backgrounds, with ground-truth object masks.

Every image holds exactly one filled shape (the labelled object) drawn over a
background made of a dark colour gradient, thin distractor strokes (straight
lines and open arcs of any colour, never one of the shape classes) and pixel
noise. The boolean mask marks the pixels of the object, which makes the
dataset suitable for checking where attribution methods point (pointing game,
mask overlap).
"""

import cv2
import numpy as np

SHAPE_CLASSES = ("circle", "square", "triangle", "cross", "star")
"""Class names in label order."""

MIN_SIZE = 16
"""Smallest accepted image side, in pixels."""

# Sub-pixel precision for OpenCV drawing: coordinates are scaled by 2**_SHIFT.
_SHIFT = 4
# Shape radius (centre to farthest vertex) as a fraction of the image side.
_RADIUS_RANGE = (0.13, 0.2)
# Range of each RGB channel of the colour at one end of the background
# gradient, how far the other end departs from it, and the brightest channel
# value of either end.
_BACKGROUND_START = (0.0, 130.0)
_BACKGROUND_SPREAD = 40.0
_BACKGROUND_MAX = 150.0
# Smallest Euclidean RGB distance between the object colour and both
# background gradient end colours, when one of the candidate colours allows it.
_MIN_CONTRAST = 150.0
_CANDIDATE_COLOURS = 16
# Range of the standard deviation of the Gaussian pixel noise, per image.
_NOISE_RANGE = (3.0, 12.0)


def _unit_polygon(name):
    """Vertices of a shape centred on the origin, as `(k, 2)` floats."""
    if name == "circle":
        angles = np.linspace(0.0, 2.0 * np.pi, 48, endpoint=False)
        return np.stack([np.cos(angles), np.sin(angles)], axis=1)
    if name == "square":
        angles = np.pi / 4 + np.arange(4) * np.pi / 2
        return np.stack([np.cos(angles), np.sin(angles)], axis=1)
    if name == "triangle":
        angles = -np.pi / 2 + np.arange(3) * 2.0 * np.pi / 3
        return np.stack([np.cos(angles), np.sin(angles)], axis=1)
    if name == "cross":
        w = 0.4
        return np.array(
            [
                [w, -1], [w, -w], [1, -w], [1, w], [w, w], [w, 1],
                [-w, 1], [-w, w], [-1, w], [-1, -w], [-w, -w], [-w, -1],
            ],
            dtype=float,
        )
    if name == "star":
        angles = -np.pi / 2 + np.arange(10) * np.pi / 5
        radii = np.where(np.arange(10) % 2 == 0, 1.0, 0.5)
        return np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)
    raise ValueError(f"Unknown shape class: {name!r}")


# Class-dependent radius factors that bring the filled areas closer together,
# so that object size is a weak cue for the class.
_AREA_SCALE = {
    "circle": 0.85,
    "square": 1.0,
    "triangle": 1.2,
    "cross": 1.08,
    "star": 1.2,
}
_POLYGONS = tuple(
    polygon / np.linalg.norm(polygon, axis=1).max()
    for polygon in map(_unit_polygon, SHAPE_CLASSES)
)
_SCALES = np.array([_AREA_SCALE[name] for name in SHAPE_CLASSES])


def _validate(n, size, seed):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise ValueError(f"Expected `n` to be a positive integer. Received: n={n!r}")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < MIN_SIZE:
        raise ValueError(
            f"Expected `size` to be an integer of at least {MIN_SIZE}. Received: size={size!r}"
        )
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(
            f"Expected `seed` to be a non-negative integer. Received: seed={seed!r}"
        )


def _gradient_positions(rng, n, size):
    """Position of each pixel along a random direction, as `(n, size, size)` floats.

    Values run from 0 to 1 across the image diagonal, for linear colour
    gradients in random directions.
    """
    angle = rng.uniform(0, 2 * np.pi, size=n)
    coords = ((np.arange(size) + 0.5) / size - 0.5).astype(np.float32)
    cos = np.cos(angle).astype(np.float32)[:, None, None]
    sin = np.sin(angle).astype(np.float32)[:, None, None]
    projection = cos * coords[None, None, :] + sin * coords[None, :, None]
    return projection * np.float32(np.sqrt(0.5)) + np.float32(0.5)


def _object_colours(rng, start, end):
    """Object colours that stand out from both ends of the background gradient."""
    n = start.shape[0]
    candidates = rng.uniform(0, 255, size=(n, _CANDIDATE_COLOURS, 3))
    distance = np.minimum(
        np.linalg.norm(candidates - start[:, None, :], axis=-1),
        np.linalg.norm(candidates - end[:, None, :], axis=-1),
    )
    good = distance >= _MIN_CONTRAST
    # First candidate passing the contrast test, else the most contrasted one.
    choice = np.where(good.any(axis=1), good.argmax(axis=1), distance.argmax(axis=1))
    return candidates[np.arange(n), choice]


def _draw_distractors(canvas, rng, size):
    """Draws thin straight lines and open arcs onto `canvas` in place."""
    scale = 1 << _SHIFT
    for _ in range(rng.integers(2, 5)):
        p1 = tuple(int(v) for v in rng.uniform(-0.1, 1.1, size=2) * size * scale)
        p2 = tuple(int(v) for v in rng.uniform(-0.1, 1.1, size=2) * size * scale)
        colour = tuple(float(v) for v in rng.uniform(0, 255, size=3))
        cv2.line(canvas, p1, p2, colour, 1, cv2.LINE_AA, _SHIFT)
    for _ in range(rng.integers(1, 3)):
        centre = tuple(int(v) for v in rng.uniform(0, 1, size=2) * size * scale)
        axes = tuple(int(v) for v in rng.uniform(0.1, 0.4, size=2) * size * scale)
        rotation = float(rng.uniform(0, 360))
        start = float(rng.uniform(0, 360))
        sweep = float(rng.uniform(45, 200))
        colour = tuple(float(v) for v in rng.uniform(0, 255, size=3))
        cv2.ellipse(
            canvas, centre, axes, rotation, start, start + sweep, colour, 1,
            cv2.LINE_AA, _SHIFT,
        )


def _object_mask(label, centre, radius, angle, size):
    """Boolean mask of one rotated, scaled shape."""
    c, s = np.cos(angle), np.sin(angle)
    rotation = np.array([[c, -s], [s, c]])
    points = _POLYGONS[label] @ rotation.T * radius + centre
    points = np.round(points * (1 << _SHIFT)).astype(np.int32)
    mask = np.zeros((size, size), dtype=np.uint8)
    cv2.fillPoly(mask, [points], 1, cv2.LINE_8, _SHIFT)
    return mask.astype(bool)


def shapes(n, *, size=64, seed=0):
    """Generates labelled shape images with ground-truth object masks.

    Each image contains one filled shape of class `SHAPE_CLASSES[label]`,
    entirely inside the image, at a random position, scale (about 13 % to 24 %
    of `size` from centre to tip) and rotation, in a random colour far from
    the background's. The background is a dark colour gradient in a random
    direction crossed by thin distractor lines and arcs of random colours,
    plus Gaussian noise over the whole image, so that the class can only be
    read from the object itself. Labels are drawn uniformly, so classes are
    balanced in expectation. The output depends only on the arguments.

    Args:
        n: Number of images, a positive integer.
        size: Side of the square images in pixels, at least `MIN_SIZE` (16).
        seed: Non-negative integer seed for `numpy.random.default_rng`.

    Returns:
        A tuple `(images, labels, masks)`: `images` is a `(n, size, size, 3)`
        uint8 RGB array, `labels` a `(n,)` int64 array of indices into
        `SHAPE_CLASSES`, and `masks` a `(n, size, size)` bool array that is
        True on the pixels of the object.

    Raises:
        ValueError: If `n`, `size` or `seed` is not valid.
    """
    _validate(n, size, seed)
    n, size = int(n), int(size)
    rng = np.random.default_rng(int(seed))

    labels = rng.integers(0, len(SHAPE_CLASSES), size=n).astype(np.int64)
    radii = rng.uniform(*_RADIUS_RANGE, size=n) * size * _SCALES[labels]
    margins = radii + 2.0
    centres = margins[:, None] + rng.uniform(0, 1, size=(n, 2)) * (size - 2 * margins[:, None])
    angles = rng.uniform(0, 2 * np.pi, size=n)

    start = rng.uniform(*_BACKGROUND_START, size=(n, 3)).astype(np.float32)
    spread = rng.uniform(-_BACKGROUND_SPREAD, _BACKGROUND_SPREAD, size=(n, 3))
    end = np.clip(start + spread, 0, _BACKGROUND_MAX).astype(np.float32)
    positions = _gradient_positions(rng, n, size)
    colours = _object_colours(rng, start, end)
    noise_levels = rng.uniform(*_NOISE_RANGE, size=n).astype(np.float32)

    images = np.empty((n, size, size, 3), dtype=np.uint8)
    masks = np.empty((n, size, size), dtype=bool)
    for i in range(n):
        canvas = start[i] + positions[i, :, :, None] * (end[i] - start[i])
        _draw_distractors(canvas, rng, size)
        masks[i] = _object_mask(labels[i], centres[i], radii[i], angles[i], size)
        canvas[masks[i]] = colours[i]
        canvas += rng.standard_normal(size=canvas.shape, dtype=np.float32) * noise_levels[i]
        images[i] = np.clip(np.rint(canvas), 0, 255)
    return images, labels, masks
