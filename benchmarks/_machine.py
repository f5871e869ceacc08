"""Shared helpers for the benchmark scripts: machine description, timing, Markdown tables."""

import datetime
import os
import platform
import statistics
import time


def machine_description():
    """One line naming the CPU, core count, accelerator and library versions the numbers came from."""
    import keras
    import numpy as np
    import tensorflow as tf

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    gpus = tf.config.list_physical_devices("GPU")
    accelerator = ", ".join(d.name for d in gpus) if gpus else "no GPU"
    return (
        f"{cpu}, {os.cpu_count()} cores, {accelerator}; Python {platform.python_version()}, "
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}, NumPy {np.__version__}; "
        f"{datetime.date.today().isoformat()}"
    )


def best_time(function, *, repeats=5, warmup=1):
    """Median wall time of `function()` over `repeats` runs, after `warmup` untimed runs (tracing)."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def markdown_table(header, rows):
    """A GitHub Markdown table from a header list and rows of cells."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def write_result(path, title, intro, sections):
    """Writes a results page atomically: a title, the machine line, an intro and (heading, body) pairs."""
    parts = [f"# {title}", "", f"Machine: {machine_description()}", "", intro.strip(), ""]
    for heading, body in sections:
        parts += [f"## {heading}", "", body.strip(), ""]
    temporary = f"{path}.tmp"
    with open(temporary, "w") as handle:
        handle.write("\n".join(parts))
    os.replace(temporary, path)


def command_line(description, name, argv=None):
    """The `--quick` and `--out` options every benchmark script takes.

    Returns:
        `(quick, out)`: whether to run small sizes, and the results file (by default
        `benchmarks/results/<name>.md`, or a temporary file with `--quick`).
    """
    import argparse
    import pathlib
    import tempfile

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--out", help=f"results file (default: benchmarks/results/{name}.md; a "
                                      "temporary file with --quick)")
    args = parser.parse_args(argv)
    default = (os.path.join(tempfile.gettempdir(), f"keras_vis_{name}_quick.md") if args.quick
               else str(pathlib.Path(__file__).resolve().parent / "results" / f"{name}.md"))
    return args.quick, args.out or default
