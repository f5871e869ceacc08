"""Work in progress."""

from keras_vis.attribution.cam.base import BaseCAM


class EigenCAM(BaseCAM):
    def __init__(self, **options):
        self.options = options


class EigenGradCAM(BaseCAM):
    def __init__(self, **options):
        self.options = options
