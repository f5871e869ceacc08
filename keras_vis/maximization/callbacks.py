"""Watching an activation-maximization run: a progress bar, the objective's history, GIF frames.

`maximize` renders its images in batches (all at once unless `batch_size` is given) and calls, for
each batch:

- `on_batch_begin(state)` before the first step (`state.step == 0`, the starting images),
- `on_step_end(state)` after every optimisation step,
- `on_batch_end(state)` after the last step,

and finally `on_end(images)` with the returned uint8 images. `state` is a `RenderState`.
"""

import importlib.util
import os
import pathlib

import cv2
import numpy as np

from keras_vis._checks import check_positive_int, expected
from keras_vis.io import atomic_write
from keras_vis.pixels import tile
from keras_vis.progress import Bar


class RenderState:
    """What a callback can see of a running render.

    Attributes:
        batch: index of the batch of images being rendered; `batches`: how many batches.
        first: index (among all rendered images) of this batch's first image.
        step: optimisation steps done in this batch; `steps`: steps per batch over all scales.
        scale: index of the current scale (0 without upscaling); `size`: its `(H, W)`.
    """

    def __init__(self, batch, batches, first, steps, read_images):
        self.batch, self.batches, self.first, self.steps = batch, batches, first, steps
        self.step = 0
        self.scale = 0
        self.size = None
        self._values = None
        self._read_images = read_images

    @property
    def values(self):
        """`(K,)` float32 objective of each image, evaluated at the start of the last step
        (`None` before the first step)."""
        if self._values is not None and not isinstance(self._values, np.ndarray):
            self._values = np.asarray(self._values, np.float32)
        return self._values

    def images(self):
        """The current images as the render returns them: uint8 `(K, H, W, C)`, deprocessed."""
        return self._read_images()


class Callback:
    """Base class; override any of the hooks."""

    def on_batch_begin(self, state):
        pass

    def on_step_end(self, state):
        pass

    def on_batch_end(self, state):
        pass

    def on_end(self, images):
        pass


class ProgressBar(Callback):
    """A `keras_vis.progress.Bar` over all steps of all batches, showing the mean objective.

    Like every bar of the package it appears on stderr once the render has run two seconds, and
    shows nothing inside `keras_vis.progress.silenced()` (or inside another running bar).
    """

    def __init__(self):
        self._bar = None

    def on_batch_begin(self, state):
        if state.batch == 0:
            self._bar = Bar(state.steps * state.batches, "maximize").start()

    def on_step_end(self, state):
        self._bar.advance(note=f"objective {float(np.mean(state.values)):.4g}")

    def on_end(self, images):
        self._bar.finish()


class History(Callback):
    """Records every image's objective at every step.

    Attributes:
        values: float32 `(steps, K)`: row `t` is the objective of each image at the start of step
            `t + 1` (row 0 is the starting image), over all batches.
    """

    def __init__(self):
        self._rows = []
        self.values = None

    def on_batch_begin(self, state):
        if state.batch == 0:
            self._rows = []
            self.values = None
        self._rows.append([])

    def on_step_end(self, state):
        self._rows[-1].append(state.values)

    def on_end(self, images):
        self.values = np.concatenate([np.stack(rows) for rows in self._rows], axis=1)


class FrameRecorder(Callback):
    """Keeps snapshots of the images during the optimisation and can write them as an animated GIF.

    Args:
        every: record a frame every this many steps (the start and the end are always recorded).
        path: if given, a `.gif` file written (atomically) when the render ends.
        duration: milliseconds per GIF frame.
        cols: images per row of each GIF frame when several images are rendered.

    Attributes:
        frames: list of uint8 arrays `(K, H, W, C)` (the size grows across scales).
        steps: the step number of each frame.
    """

    def __init__(self, every=1, *, path=None, duration=100, cols=None):
        self.every = check_positive_int(every, "every")
        self.duration = check_positive_int(duration, "duration")
        self.cols = None if cols is None else check_positive_int(cols, "cols")
        self.path = None if path is None else _gif_path(path)
        self._chunks = []
        self.frames, self.steps = [], []

    def on_batch_begin(self, state):
        if state.batch == 0:
            self._chunks = []
        self._chunks.append(([], []))
        self._record(state)

    def on_step_end(self, state):
        if state.step % self.every == 0 or state.step == state.steps:
            self._record(state)

    def _record(self, state):
        frames, steps = self._chunks[-1]
        if not steps or steps[-1] != state.step:
            frames.append(state.images())
            steps.append(state.step)

    def on_end(self, images):
        self.steps = self._chunks[0][1]
        per_batch = [frames for frames, _ in self._chunks]
        self.frames = [np.concatenate(parts, axis=0) for parts in zip(*per_batch)]
        if self.path is not None:
            self.save(self.path)

    def save(self, path):
        """Writes the recorded frames as an animated GIF (tiled when there are several images,
        every frame resized to the last one's size).

        Returns:
            The `pathlib.Path` written.
        """
        path = _gif_path(path)
        if not self.frames:
            raise ValueError("Expected recorded frames to save. Received: none; run `maximize` "
                             "with this recorder in `callbacks` first.")
        pictures = [tile(frame, cols=self.cols, pad=2, fill=0) for frame in self.frames]
        height, width = pictures[-1].shape[:2]
        pictures = [
            p if p.shape[:2] == (height, width)
            else cv2.resize(p, (width, height), interpolation=cv2.INTER_NEAREST).reshape(
                height, width, -1)
            for p in pictures
        ]
        write_gif(path, pictures, self.duration)
        return path


def _gif_path(path):
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(expected("path", "a file path ending in .gif", path))
    path = pathlib.Path(os.fspath(path))
    if path.suffix.lower() != ".gif":
        raise ValueError(expected("path", "a file path ending in .gif", str(path)))
    if path.is_dir():
        raise ValueError(expected("path", "a file path, not a folder", str(path)))
    if gif_writer() is None:
        raise ImportError(
            "Writing a GIF needs Pillow or imageio; neither is installed. Install one "
            "(`pip install pillow`), or keep the frames in `FrameRecorder.frames`."
        )
    return path


def gif_writer():
    """`"pillow"` or `"imageio"`, whichever is installed (Pillow first), else `None`."""
    for module, name in (("PIL", "pillow"), ("imageio", "imageio")):
        if importlib.util.find_spec(module) is not None:
            return name
    return None


def write_gif(path, pictures, duration, writer=None):
    """Writes uint8 `(H, W, C)` pictures as a looping GIF, atomically.

    Args:
        path: the `.gif` file.
        pictures: list of uint8 arrays of one shape, RGB or grey.
        duration: milliseconds per frame.
        writer: `"pillow"`, `"imageio"` or `None` (whichever is installed).
    """
    writer = writer or gif_writer()
    pictures = [p[..., 0] if p.ndim == 3 and p.shape[-1] == 1 else p for p in pictures]
    with atomic_write(path, "wb") as file:
        if writer == "pillow":
            from PIL import Image

            first, *rest = [Image.fromarray(p) for p in pictures]
            first.save(file, format="GIF", save_all=True, append_images=rest,
                       duration=duration, loop=0)
        else:
            import imageio.v2 as imageio

            imageio.mimsave(file, pictures, format="GIF", duration=duration / 1000.0, loop=0)
    return pathlib.Path(path)


__all__ = ["Callback", "FrameRecorder", "History", "ProgressBar", "RenderState", "write_gif"]
