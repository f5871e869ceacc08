"""TensorFlow's C++ log lines kept off the terminal, and everything else left as it is.

TensorFlow's native libraries write their own log lines straight to file descriptor 2, bypassing
Python: the absl "WARNING: All log messages before absl::InitializeLog() is called are written to
STDERR" notice, "oneDNN custom operations are on", the CPU-instructions and CUDA-library notices,
device creation. `filtered_stderr()`, around a whole `keras-vis` command (`keras-vis serve`, the
explorer's server, included), drops those lines (`is_log_line`) and passes every other byte on:
descriptor 2 becomes a pipe read by a small child process (this file run as a script) that writes
the other lines to the real stderr as they come, and that outlives an abort of the command, so a
fatal error still shows. Python's own `sys.stderr` (progress bars, error lines, tracebacks) writes
to the real stderr directly.

Only the command, which owns its process, does this: `import keras_vis` touches no process-wide
state, neither descriptor 2 nor the import machinery.

Info and warning lines are dropped; error and fatal lines stay, except the known noise of a
machine without a usable GPU (a CUDA factory registered twice, a failed `cuInit`). Setting the
environment variable `KERAS_VIS_VERBOSE` (the command line's `--verbose`) turns the filter off.

This module needs only the standard library and imports nothing of the package, so that it can run
as the child process.
"""

import contextlib
import os
import re
import subprocess
import sys

VERBOSE_ENV = "KERAS_VIS_VERBOSE"
"""The environment variable that, set to anything but "" or "0", keeps TensorFlow's log lines."""

_RECORD = re.compile(
    # absl/glog: "I0000 00:00:1796390706.918505    7777 port.cc:153] message"
    r"(?P<glog>[IWEF])\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\] "
    # TensorFlow before 2.16: "2023-11-06 10:14:19.146340: I tensorflow/core/util/port.cc:111] "
    r"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: (?P<dated>[IWEF]) \S+:\d+\] ")
# Lines that carry no record prefix: the absl notice, and the second lines of two-line records.
_BARE = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|To enable the following instructions: .*rebuild TensorFlow with the appropriate compiler "
    r"flags\."
    r"|To turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`\.")
# Error records that every import prints on a machine whose GPU libraries are absent or doubled.
_NOISE = re.compile(r"Unable to register cu\w+ factory|failed call to cuInit"
                    r"|computation placer already registered|GPU will not be used",
                    re.IGNORECASE)
_CHUNK = 1 << 16


def verbose():
    """True when `KERAS_VIS_VERBOSE` asks for TensorFlow's log lines."""
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0")


def is_log_line(line):
    """True if `line` (str, without or with its line break) is a TensorFlow or absl C++ log line
    to drop: an info or warning record, a known noisy error record, or one of their bare lines."""
    line = line.rstrip("\r\n")
    if _BARE.fullmatch(line):
        return True
    record = _RECORD.match(line)
    if record is None:
        return False
    severity = record.group("glog") or record.group("dated")
    return severity in "IW" or bool(_NOISE.search(line, record.end()))


class LineFilter:
    """Drops the log lines of a byte stream fed in pieces; a piece may end mid-line."""

    def __init__(self):
        self._pending = b""

    def feed(self, data):
        """The whole lines of `data` (bytes) that are not log lines; a last partial line waits."""
        *lines, self._pending = (self._pending + data).split(b"\n")
        return b"".join(line + b"\n" for line in lines if not _is_log(line))

    def close(self):
        """The waiting partial line, unless it is a log line."""
        rest, self._pending = self._pending, b""
        return b"" if _is_log(rest) else rest


def _is_log(line):
    return is_log_line(line.decode("utf-8", "replace"))


def drop_log_lines(data):
    """`data` (bytes) without its log lines."""
    lines = LineFilter()
    return lines.feed(data) + lines.close()


def _write_all(fd, data):
    while data:
        data = data[os.write(fd, data):]


def _flush_python_stderr():
    with contextlib.suppress(AttributeError, OSError, ValueError):
        sys.stderr.flush()


def _is_process_stderr():
    """True if `sys.stderr` is the process's own descriptor 2 (not a capture, not a notebook's)."""
    try:
        return sys.stderr is sys.__stderr__ and sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):
        return False


def _start_relay():
    """The child process that copies its stdin to the current descriptor 2 without log lines, or
    `None` if it cannot start."""
    script = os.path.abspath(__file__)
    if not sys.executable or not os.path.isfile(script):
        return None
    try:
        # Its own session: a Ctrl-C at the terminal reaches the command, not the relay, which
        # still writes out what the command prints on its way out.
        return subprocess.Popen([sys.executable, "-I", "-S", script], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, start_new_session=True)
    except OSError:
        return None


@contextlib.contextmanager
def filtered_stderr():
    """Drops TensorFlow's log lines from descriptor 2 for the block, as they are written.

    Only where `sys.stderr` is the process's descriptor 2 (not under a test's capture or in a
    notebook) and `verbose()` is false; else the block runs as it is. In the block `sys.stderr`
    writes to the real stderr directly, a terminal still (progress bars redraw in place). When
    the block ends, descriptor 2 is back and the relay has written everything out.
    """
    if verbose() or not _is_process_stderr():
        yield
        return
    _flush_python_stderr()
    relay = _start_relay()
    if relay is None:
        yield
        return
    python_stderr = sys.stderr
    # Left open when the block ends: a logging handler made in the block may still write to it.
    direct = open(os.dup(2), "w", buffering=1, encoding=python_stderr.encoding,
                  errors=python_stderr.errors)
    os.dup2(relay.stdin.fileno(), 2)
    relay.stdin.close()
    sys.stderr = direct
    try:
        yield
    finally:
        _flush_python_stderr()
        sys.stderr = python_stderr
        os.dup2(direct.fileno(), 2)  # the pipe's last write end closes: the relay reads its end
        with contextlib.suppress(subprocess.TimeoutExpired):
            # A process started in the block may hold the pipe open; it then keeps the relay.
            relay.wait(timeout=5)


def relay(source=0, target=2):
    """Copies descriptor `source` to `target` without log lines until `source` ends; a `target`
    that closes (a pipe whose reader left) is skipped while `source` is still read to its end."""
    lines = LineFilter()
    writable = True
    while True:
        data = os.read(source, _CHUNK)
        kept = lines.feed(data) if data else lines.close()
        if writable and kept:
            try:
                _write_all(target, kept)
            except OSError:
                writable = False
        if not data:
            return


__all__ = ["LineFilter", "VERBOSE_ENV", "drop_log_lines", "filtered_stderr", "is_log_line", "relay",
           "verbose"]

if __name__ == "__main__":
    relay()
