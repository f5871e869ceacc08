"""Generated datasets with ground truth for checking visualizations."""

from keras_vis.datasets.shapes import MIN_SIZE, SHAPE_CLASSES, shapes

__all__ = ["MIN_SIZE", "SHAPE_CLASSES", "shapes"]
