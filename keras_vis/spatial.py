"""Which input positions each output of a convolution, pooling, padding or cropping reads.

The one place that turns a layer's kernel, stride, dilation and padding into index arithmetic, per
axis. `keras_vis.deconv.receptive_field` carries receptive fields (the input pixels a unit sees)
through it from the input up; `keras_vis.incremental` carries changed regions (the units a patch of
the input changes) through it the other way.
"""

import dataclasses

import keras
import numpy as np

WINDOW_TYPES = (
    keras.layers.Conv2D,
    keras.layers.DepthwiseConv2D,
    keras.layers.SeparableConv2D,
    keras.layers.MaxPooling2D,
    keras.layers.AveragePooling2D,
)
"""Layers whose outputs each read a window of their input: convolutions of every kind, poolings."""

SHIFT_TYPES = (keras.layers.ZeroPadding2D, keras.layers.Cropping2D)
"""Layers that move the map by whole pixels: each output reads one input position (or padding)."""


class UnsupportedLayer(ValueError):
    """Raised for a layer that changes the map size in a way the arithmetic does not cover."""


@dataclasses.dataclass(frozen=True)
class AxisWindow:
    """How one axis of a layer's output reads its input.

    Output `o` reads the input positions `o * stride - lead + t` for `t` in `[0, extent)`; those
    outside `[0, input_size)` are padding.

    Attributes:
        extent: input positions spanned by one output's window, dilation included.
        stride: input positions between neighbouring outputs' windows.
        lead: padding before the first input position (negative for a cropping).
        input_size: length of the input axis.
        output_size: length of the output axis.
    """

    extent: int
    stride: int
    lead: int
    input_size: int
    output_size: int

    def first_read(self, output):
        """The first input position read by output `output` (an int or an int array)."""
        return np.asarray(output) * self.stride - self.lead

    def read_length(self, outputs):
        """Input positions spanned by the windows of `outputs` consecutive outputs."""
        return (outputs - 1) * self.stride + self.extent

    def reached(self, first, stop):
        """The outputs whose windows overlap the input positions `[first, stop)`, clipped to the
        output axis: `(start, stop)` int arrays (empty where `stop <= start`)."""
        first, stop = np.asarray(first), np.asarray(stop)
        start = -((self.extent - 1 - self.lead - first) // self.stride)  # ceil division
        end = (stop - 1 + self.lead) // self.stride + 1
        return np.clip(start, 0, self.output_size), np.clip(end, 0, self.output_size)


def window_axes(layer, input_size):
    """The `(rows, columns)` `AxisWindow`s of `layer` on an input map of `input_size`, or `None`
    for a layer that is neither a window layer (`WINDOW_TYPES`) nor a shift (`SHIFT_TYPES`).

    Raises:
        UnsupportedLayer: for a channels-first layer.
    """
    if not isinstance(layer, WINDOW_TYPES + SHIFT_TYPES):
        return None
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        raise UnsupportedLayer(f"layer '{layer.name}' uses data_format={layer.data_format!r}")
    if isinstance(layer, keras.layers.ZeroPadding2D):
        return tuple(AxisWindow(1, 1, before, length, length + before + after)
                     for (before, after), length in zip(layer.padding, input_size))
    if isinstance(layer, keras.layers.Cropping2D):
        return tuple(AxisWindow(1, 1, -before, length, length - before - after)
                     for (before, after), length in zip(layer.cropping, input_size))
    kernel = getattr(layer, "kernel_size", None) or layer.pool_size
    dilation = getattr(layer, "dilation_rate", (1, 1))
    same = layer.padding.lower() == "same"
    axes = []
    for axis, length in enumerate(input_size):
        extent = dilation[axis] * (kernel[axis] - 1) + 1
        stride = layer.strides[axis]
        if same:
            out = -(-length // stride)
            lead = max((out - 1) * stride + extent - length, 0) // 2
        else:
            out, lead = (length - extent) // stride + 1, 0
        axes.append(AxisWindow(extent, stride, lead, length, out))
    return tuple(axes)
