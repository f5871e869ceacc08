"""The `keras-vis` command: every technique of the package on a model and images, from a shell.

`main(argv)` returns the exit code: 0 on success, 2 for a bad option, file, model or layer (one line
on stderr, nothing written), 130 on Ctrl-C (only whole files written). TensorFlow is imported only
once the command line has been parsed; the log lines of its C++ libraries are kept off stderr
unless `--verbose` is given (see `keras_vis._quiet`).
"""

import os
import sys

from keras_vis import _quiet
from keras_vis.cli.parser import UsageError, build_parser
from keras_vis.cli.wording import for_cli

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def error_line(error):
    """An exception as one line: no traceback, no line breaks, file errors with their path."""
    if isinstance(error, OSError) and error.filename is not None:
        text = f"{error.strerror or error}: '{error.filename}'"
    else:
        text = str(error) or type(error).__name__
    return " ".join(text.split())


def fail(message):
    print(f"keras-vis: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def main(argv=None):
    """Runs `keras-vis` with `argv` (default `sys.argv[1:]`) and returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as error:
        return fail(error_line(error))
    except SystemExit as done:  # --help and --version
        return done.code if isinstance(done.code, int) else 0
    if args.verbose or _quiet.verbose():
        return run_command(args)
    # Fewer lines to filter: TensorFlow then drops its info records once logging is set up.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _quiet.filtered_stderr():
        return run_command(args)


def run_command(args):
    """Runs the parsed command line `args`; returns the exit code, 2 or 130 as `main` says."""
    try:
        from keras_vis.cli.commands import run

        return run(args)
    except KeyboardInterrupt:
        print("keras-vis: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (ValueError, TypeError, OSError) as error:
        return fail(library_error_line(error, args.command))


def library_error_line(error, command):
    """`error_line` of an error raised by the library, in the options' words (`--layer`, not
    `layer`); a file error, one path and its reason, is left as it is."""
    if isinstance(error, OSError) and error.filename is not None:
        return error_line(error)
    return for_cli(error_line(error), command)


__all__ = ["main"]
