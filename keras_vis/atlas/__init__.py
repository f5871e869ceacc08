"""The activation atlas: a dataset's activations at a layer, laid out in 2-D and rendered.

    >>> dataset = keras_vis.demo.shapes(400)          # images and labels: any dataset of images
    >>> atlas = keras_vis.activation_atlas(model, dataset, "last_conv", grid=10, steps=32, seed=0)
    >>> atlas.save("atlas.npz")
    >>> keras_vis.plot.atlas(keras_vis.Atlas.load("atlas.npz"))
"""

from keras_vis.atlas.atlas import Atlas, activation_atlas

__all__ = ["Atlas", "activation_atlas"]
