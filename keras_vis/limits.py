"""Bounds on what a request may ask for, read by the Python API and by the command line's parser
(standard library only, so `keras-vis --help` stays fast)."""

MAX_SIDE = 4096
"""The largest side, in pixels, of a picture keras_vis renders or draws (a rendered image, an
enlarged display): beyond it a request is a typo, and would fill the memory before failing."""
