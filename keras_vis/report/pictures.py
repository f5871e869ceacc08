"""Pictures a technique produced, ready to be written as PNG files or embedded in a page."""

import dataclasses
import io
import math
import typing

import cv2
import numpy as np
from matplotlib.figure import Figure

from keras_vis.pixels import to_uint8

# Figures are rendered at this resolution: sharp on screen, small on disk.
FIGURE_DPI = 80


@dataclasses.dataclass(frozen=True, eq=False)
class Picture:
    """One picture with the words that say what it shows.

    Attributes:
        name: a file-name-safe name, unique within its technique (`"gradcam"`, `"block1_conv1"`);
            `""` when the technique's name says it all.
        title: a short title (`"Grad-CAM"`).
        content: a uint8 RGB array `(H, W, 3)` or a matplotlib `Figure`.
        caption: one sentence saying how to read it, or `""`.
        image: index of the explained image, or `None` for a picture of the whole model.
        detail: a short note about this very picture (the value it starts from, the classes
            predicted), or `""`.
    """

    name: str
    title: str
    content: typing.Union[np.ndarray, Figure]
    caption: str = ""
    image: typing.Optional[int] = None
    detail: str = ""

    def png(self):
        """The picture encoded as PNG bytes."""
        if isinstance(self.content, Figure):
            return figure_png(self.content)
        return array_png(self.content)


def array_png(image):
    """Encodes a uint8 (or float 0–1) RGB, RGBA or grey image as PNG bytes."""
    pixels = to_uint8(image)
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    if pixels.ndim == 3:
        code = cv2.COLOR_RGB2BGR if pixels.shape[-1] == 3 else cv2.COLOR_RGBA2BGRA
        pixels = cv2.cvtColor(pixels, code)
    ok, encoded = cv2.imencode(".png", pixels)
    if not ok:
        raise ValueError(f"Could not encode an image of shape {pixels.shape} as PNG.")
    return encoded.tobytes()


def figure_png(figure, dpi=FIGURE_DPI):
    """Renders a matplotlib figure to PNG bytes (white background, tight margins)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    return buffer.getvalue()


def enlarge(image, min_side):
    """Enlarges a picture by a whole factor (nearest neighbour) until its shorter side is at least
    `min_side`, so small inputs stay crisp; larger pictures are returned as they are."""
    factor = math.ceil(min_side / max(1, min(image.shape[:2])))
    if factor <= 1:
        return image
    height, width = image.shape[:2]
    resized = cv2.resize(image, (width * factor, height * factor), interpolation=cv2.INTER_NEAREST)
    return resized.reshape((height * factor, width * factor) + image.shape[2:])


def rgb(image):
    """A uint8 picture as RGB `(H, W, 3)` (grey is repeated over three channels)."""
    pixels = to_uint8(image)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.shape[-1] == 1:
        pixels = np.repeat(pixels, 3, axis=-1)
    return pixels[..., :3]


def sentence_tile(image, sentence):
    """`image` (uint8 RGB) dimmed, with `sentence` written over it in white: a picture that says
    why there is nothing to show, instead of a blank tile that looks like an answer."""
    tile = (np.asarray(image, np.float32) * 0.25).astype(np.uint8)
    height, width = tile.shape[:2]
    scale = max(0.3, min(1.0, width / 400))
    thickness = 1
    (_, line_height), baseline = cv2.getTextSize("Ag", cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    margin, step = max(2, width // 32), line_height + baseline + 2
    lines, current = [], ""
    for word in sentence.split():
        candidate = f"{current} {word}".strip()
        fits = cv2.getTextSize(candidate, cv2.FONT_HERSHEY_SIMPLEX, scale,
                               thickness)[0][0] <= width - 2 * margin
        if fits or not current:
            current = candidate
        else:
            lines.append(current)
            current = word
    lines.append(current)
    top = max(margin + line_height, (height - step * len(lines)) // 2 + line_height)
    for number, line in enumerate(lines):
        cv2.putText(tile, line, (margin, top + number * step), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (255, 255, 255), thickness, cv2.LINE_AA)
    return tile
