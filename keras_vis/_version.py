"""The installed package's version, read from its metadata without importing it (and TensorFlow):
the command line's `--version` and the report's footer say it."""

import importlib.metadata


def version():
    """The version of the installed `keras_vis` distribution, or `"unknown"` where it is not
    installed (a source tree on `sys.path`)."""
    try:
        return importlib.metadata.version("keras_vis")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
