"""Progress bars for long jobs: on stderr, and only once a job has run for a while.

A `Bar` counts the work units of one job (altered copies, images, maps). It prints nothing until
the job has run `DELAY` seconds without finishing, so quick calls stay silent; then it shows one
line on stderr: redrawn in place (`\\r`) on a terminal, else (a log file, a pipe, a notebook)
written as whole lines: one when the bar appears, one every `LOG_INTERVAL` seconds, one at the
end. It never writes ANSI escape codes, and never writes to stdout, which holds a command's
output.

One bar shows at a time: inside a running bar, and inside `silenced()`, every other bar stays
quiet, so a job made of other jobs (a metric that computes maps, a dataset explained batch by
batch) shows its own bar only.

This module needs only the standard library: the command line imports it before TensorFlow.
"""

import contextlib
import contextvars
import shutil
import sys
import time

DELAY = 2.0
"""Seconds a job runs before its bar appears."""
REDRAW_INTERVAL = 0.1
"""Least seconds between two redraws of a bar on a terminal."""
LOG_INTERVAL = 30.0
"""Seconds between two lines of a bar written to a file or pipe."""
WIDTH = 20
"""Characters of the bar itself."""

_silent = contextvars.ContextVar("keras_vis_progress_silent", default=False)
_clock = time.perf_counter


@contextlib.contextmanager
def silenced(active=True):
    """Keeps every progress bar quiet in the block (in this thread or task).

    Example:
        >>> with keras_vis.progress.silenced():
        ...     maps = keras_vis.occlusion(model, images, patch=8, stride=4)

    Args:
        active: `False` makes the block change nothing, for a condition:
            `with silenced(not verbose):`.
    """
    token = _silent.set(True) if active else None
    try:
        yield
    finally:
        if token is not None:
            _silent.reset(token)


def is_silenced():
    """True inside `silenced()` or inside a running `Bar`."""
    return _silent.get()


def _duration(seconds):
    minutes, seconds = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def _is_terminal(stream):
    try:
        return bool(stream.isatty())
    except (AttributeError, OSError, ValueError):
        return False


class Bar:
    """The progress of one job, drawn on stderr once it has run `DELAY` seconds.

    Use it as a context manager around the job and call `advance` after each piece of work:

        >>> with Bar(len(chunks) * size, "occlusion", unit="copies") as bar:
        ...     for chunk in chunks:
        ...         run(chunk)
        ...         bar.advance(len(chunk))

    Args:
        total: the number of work units, or `None` if unknown (the count is shown without a bar).
        label: what the job is, first on the line.
        unit: the name of the units, plural.
        enabled: `False` shows nothing (a function's `progress=False`).
        stream: where to write; default `sys.stderr`.
    """

    def __init__(self, total, label, *, unit="steps", enabled=True, stream=None):
        self.total = total
        self.label = label
        self.unit = unit
        self.enabled = enabled
        self.done = 0
        self.note = None
        self._stream = stream
        self._live = False
        self._shown = False
        self._terminal = False
        self._token = None
        self._start = self._first = self._last_draw = None
        self._drawn_width = 0

    def __enter__(self):
        self.start()
        self._token = _silent.set(True)
        return self

    def __exit__(self, kind, error, traceback):
        _silent.reset(self._token)
        self.finish(failed=kind is not None)
        return False

    def start(self):
        """Starts the clock; `with bar:` calls it. Call it directly (and `finish` at the end) only
        where a `with` block cannot hold the job; bars inside then are not kept quiet."""
        self._live = self.enabled and not is_silenced()
        if self._live:
            self._stream = self._stream or sys.stderr
            self._live = self._stream is not None
            self._terminal = self._live and _is_terminal(self._stream)
        self._start = _clock()
        return self

    def finish(self, failed=False):
        """Draws the last line, if the bar is showing; `with bar:` calls it."""
        if self._shown and not failed:
            self._draw(_clock(), final=True)
        elif self._shown and self._terminal:
            self._write("\n")  # a traceback starts on its own line
        self._shown = False

    def advance(self, count=1, note=None):
        """Marks `count` more units done; draws the bar when it is due.

        Args:
            count: units done since the last call.
            note: a short status shown at the end of the line (`"objective 12.5"`), kept until
                the next note.
        """
        self.done += count
        if note is not None:
            self.note = note
        if not self._live:
            return
        now = _clock()
        if self._first is None:
            self._first = (now, self.done)
        if self.total is not None and self.done >= self.total:
            return  # the last line is drawn on exit, once
        if self._shown:
            interval = REDRAW_INTERVAL if self._terminal else LOG_INTERVAL
            if now - self._last_draw >= interval:
                self._draw(now)
        elif now - self._start >= DELAY:
            self._shown = True
            self._draw(now)

    def _left(self, now):
        """Estimated seconds to the end, from the pace since the first unit (the first piece of
        work also pays for compiling, so it is left out when possible)."""
        if self.total is None or not self.done:
            return None
        since, done_then = self._first
        if self.done > done_then and now > since:
            pace = (now - since) / (self.done - done_then)
        else:
            pace = (now - self._start) / self.done
        return pace * max(self.total - self.done, 0)

    def text(self, now, final=False):
        """The line drawn at time `now` (a reading of the bar's clock)."""
        parts = [self.label]
        if self.total:
            filled = min(WIDTH, WIDTH * self.done // self.total)
            parts.append("[" + "#" * filled + "-" * (WIDTH - filled) + "]")
            parts.append(f"{self.done}/{self.total} {self.unit}")
        else:
            parts.append(f"{self.done} {self.unit}")
        elapsed = _duration(now - self._start)
        if final:
            parts.append(f"in {elapsed}")
        else:
            left = self._left(now)
            parts.append(elapsed + ("" if left is None else f", ~{_duration(left)} left"))
        if self.note:
            parts.append(f"- {self.note}")
        return " ".join(parts)

    def _draw(self, now, final=False):
        self._last_draw = now
        line = self.text(now, final)
        if not self._terminal:
            self._write(line + "\n")
            return
        # A line wider than the terminal wraps, and `\r` would then redraw only its last part.
        line = line[: max(shutil.get_terminal_size().columns - 1, 1)]
        padded = line.ljust(self._drawn_width)
        self._drawn_width = len(line)
        self._write("\r" + padded + ("\n" if final else ""))

    def _write(self, text):
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):
            # A closed or broken stream must not stop the computation it reports on.
            self._live = self._shown = False


__all__ = ["Bar", "DELAY", "is_silenced", "silenced"]
