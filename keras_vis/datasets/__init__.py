"""The generated shapes dataset, under its former name.

The generator lives in `keras_vis.demo.shapes`, beside the demo model trained on it; import it
from `keras_vis.demo` (`from keras_vis.demo import shapes, SHAPE_CLASSES, MIN_SIZE`).
"""

from keras_vis.demo.shapes import MIN_SIZE, SHAPE_CLASSES, shapes

__all__ = ["MIN_SIZE", "SHAPE_CLASSES", "shapes"]
