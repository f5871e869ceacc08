"""Work in progress."""

from keras_vis.attribution.cam.base import BaseCAM


class XGradCAM(BaseCAM):
    def __init__(self, **options):
        self.options = options
