"""A progress line for each step of a long job, written to stderr."""

import sys
import time

from keras_vis.progress import is_silenced


class Progress:
    """Announces the steps of a job, one line each with a bar of the share done.

    It is the one progress display of the job: `build_report` runs its steps inside
    `keras_vis.progress.silenced()` while it is live, so the techniques' own bars (RISE's copies,
    the maximization steps) do not draw inside it.

    Args:
        total: number of steps.
        enabled: `False` prints nothing; nor does it when made inside
            `keras_vis.progress.silenced()`.
        stream: where to write; default `sys.stderr`.

    Attributes:
        live: whether it writes, decided when it is made: `enabled`, and not made inside
            `silenced()`.
    """

    WIDTH = 20

    def __init__(self, total, *, enabled=True, stream=None):
        self.total = total
        self.live = enabled and not is_silenced()
        self.stream = stream
        self.done = 0
        self._started = time.perf_counter()

    def _write(self, text):
        if self.live:
            stream = self.stream or sys.stderr
            stream.write(text + "\n")
            stream.flush()

    def _bar(self, done):
        filled = round(self.WIDTH * done / max(self.total, 1))
        return "[" + "#" * filled + "-" * (self.WIDTH - filled) + "]"

    def step(self, label):
        """Marks the start of the next step, named `label`."""
        self._write(f"{self._bar(self.done)} {self.done + 1}/{self.total} {label}")
        self.done += 1

    def finish(self):
        """Ends the job, with the elapsed time."""
        elapsed = time.perf_counter() - self._started
        self._write(f"{self._bar(self.total)} done in {elapsed:.1f} s")
