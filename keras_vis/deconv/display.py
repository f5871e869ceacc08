"""Former home of the picture helpers, which live in `keras_vis.pixels` now."""

from keras_vis.pixels import tile

__all__ = ["tile"]
