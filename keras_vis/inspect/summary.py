"""The layer table: what each layer of a model is, as text, HTML and data."""

import dataclasses
import difflib
import html
import typing

import numpy as np

from keras_vis._checks import expected
from keras_vis.inspect._walk import walk
from keras_vis import operations
from keras_vis.layers import output_shape


@dataclasses.dataclass(frozen=True)
class LayerRow:
    """One layer of a `LayerTable`.

    Attributes:
        name: the layer name.
        path: `name` for a top-level layer, `"outer/inner"` inside a nested model.
        depth: 0 for top-level layers, 1 inside a nested model, and so on.
        type: the layer class name (`"Conv2D"`, `"Functional"`, ...).
        output_shape: the symbolic output shape, batch axis `None` (first output of a multi-output
            layer), or `None` if unknown.
        params: number of weights (for a nested model, all of its weights).
        trainable_params: how many of those are trainable (0 for a frozen layer).
        filters: output channels of a convolution, else `None`.
        units: units of a dense layer, else `None`.
        kernel_size: the kernel of a convolution or the window of a pooling layer, else `None`.
        strides: the strides of a convolution or pooling layer, else `None`.
        activation: the name of the layer's activation function, if it has one.
        trainable: the layer's `trainable` flag.
        operation: the row is an operation node, not a layer: a Keras operation written in a
            functional model (`x + 1.0`, the `true_divide` of `preprocess_input`, a residual
            `inputs + x`), which every technique taps by its name like a layer.
    """

    name: str
    path: str
    depth: int
    type: str
    output_shape: typing.Optional[tuple]
    params: int
    trainable_params: int
    filters: typing.Optional[int]
    units: typing.Optional[int]
    kernel_size: typing.Optional[tuple]
    strides: typing.Optional[tuple]
    activation: typing.Optional[str]
    trainable: bool
    operation: bool = False


_COLUMNS = (
    ("Layer", "left"),
    ("Type", "left"),
    ("Output shape", "left"),
    ("Params", "right"),
    ("Filters/units", "right"),
    ("Kernel", "left"),
    ("Strides", "left"),
    ("Activation", "left"),
    ("Trainable", "left"),
)


class LayerTable:
    """The rows of `summary(model)`: list-like, printable, and shown as a table in Jupyter.

    Iterating, `len()` and `table[i]` cover every row, nested layers included (see
    `LayerRow.depth`); `table["block1_conv1"]` or `table["vgg16/block1_conv1"]` finds a row by
    name or path. `top_level` holds the rows of `model.layers` alone.

    Attributes:
        model_name: the model's name.
        rows: list of `LayerRow`.
        total_params: number of distinct weights of the model (`model.count_params()`).
        trainable_params: number of trainable weights.
        non_trainable_params: `total_params - trainable_params`.
    """

    def __init__(self, model_name, rows, total_params, trainable_params):
        self.model_name = model_name
        self.rows = list(rows)
        self.total_params = int(total_params)
        self.trainable_params = int(trainable_params)
        self.non_trainable_params = self.total_params - self.trainable_params

    @property
    def top_level(self):
        """The rows of the model's own layers (`depth == 0`), as in `model.layers`."""
        return [row for row in self.rows if row.depth == 0 and not row.operation]

    def __len__(self):
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def __getitem__(self, key):
        """A row by position, or by path or (unique) layer name.

        Raises:
            ValueError: for an unknown or ambiguous name (the message lists the candidates).
        """
        if not isinstance(key, str):
            return self.rows[key]
        for row in self.rows:
            if row.path == key:
                return row
        named = [row for row in self.rows if row.name == key]
        if len(named) == 1:
            return named[0]
        if named:
            raise ValueError(
                expected("key", "a unique layer name or a path", key,
                         f"Several nested layers have that name: {', '.join(r.path for r in named)}.")
            )
        close = difflib.get_close_matches(key, [row.path for row in self.rows], n=5, cutoff=0.5)
        hint = f"Did you mean: {', '.join(repr(c) for c in close)}?" if close else None
        raise ValueError(expected("key", f"a layer name or path of model '{self.model_name}'", key, hint))

    def to_records(self):
        """The rows as a list of plain dicts (one per layer, keys as in `LayerRow`)."""
        return [dataclasses.asdict(row) for row in self.rows]

    def to_dict(self):
        """The whole table as a JSON-serializable dict: model name, layer records and totals."""
        return {
            "model": self.model_name,
            "layers": self.to_records(),
            "total_params": self.total_params,
            "trainable_params": self.trainable_params,
            "non_trainable_params": self.non_trainable_params,
        }

    def _cells(self):
        return [
            [
                "  " * row.depth + row.name,
                f"{row.type} (operation)" if row.operation else row.type,
                _text(row.output_shape),
                f"{row.params:,}",
                _text(row.filters if row.filters is not None else row.units),
                _text(row.kernel_size),
                _text(row.strides),
                _text(row.activation),
                "yes" if row.trainable else "no",
            ]
            for row in self.rows
        ]

    def _footer(self):
        return [
            f"Total params: {self.total_params:,}",
            f"Trainable params: {self.trainable_params:,}",
            f"Non-trainable params: {self.non_trainable_params:,}",
        ]

    def __str__(self):
        header = [title for title, _ in _COLUMNS]
        cells = self._cells()
        widths = [max(len(line[i]) for line in [header] + cells) for i in range(len(header))]

        def line(values):
            parts = [
                value.rjust(width) if align == "right" else value.ljust(width)
                for value, width, (_, align) in zip(values, widths, _COLUMNS)
            ]
            return "  ".join(parts).rstrip()

        rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
        body = [f'Model: "{self.model_name}"', rule, line(header), rule]
        body += [line(values) for values in cells]
        return "\n".join(body + [rule] + self._footer())

    def __repr__(self):
        return f"<LayerTable of '{self.model_name}': {len(self.rows)} rows, {self.total_params:,} params>"

    def _repr_html_(self):
        head = "".join(
            f'<th style="text-align:{align}">{html.escape(title)}</th>' for title, align in _COLUMNS
        )
        body = []
        for row, values in zip(self.rows, self._cells()):
            values[0] = row.name
            cells = []
            for index, (value, (_, align)) in enumerate(zip(values, _COLUMNS)):
                indent = f";padding-left:{0.5 + 1.5 * row.depth}em" if index == 0 else ""
                cells.append(f'<td style="text-align:{align}{indent}">{html.escape(value)}</td>')
            body.append(f"<tr>{''.join(cells)}</tr>")
        footer = "<br>".join(html.escape(text) for text in self._footer())
        return (
            f"<div><b>Model: {html.escape(self.model_name)}</b>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
            f"<p>{footer}</p></div>"
        )


def summary(model, *, expand_nested=True):
    """The layer table of a model: name, type, output shape, parameters, filters or units, kernel,
    strides, activation and trainable flag of every layer.

    `print(summary(model))` shows it as aligned text; in Jupyter it renders as an HTML table; its
    rows are data (`.rows`, `.to_records()`, `.to_dict()`).

    Args:
        model: a built `keras.Model`.
        expand_nested: also list the layers inside nested models (indented, with paths such as
            `"vgg16/block1_conv1"`), right after the nested model's own row.

    Returns:
        A `LayerTable`. Its top-level rows are `model.layers` (an `InputLayer` is included for a
        functional model, as Keras does) with the operation nodes written between them (`x +
        1.0`, `preprocess_input`'s arithmetic, a residual `inputs + x`: `LayerRow.operation`), and
        `total_params` equals `model.count_params()`.
    """
    rows = [_row(path, depth, layer)
            for path, depth, layer in walk(model, expand_nested=expand_nested, operations=True)]
    return LayerTable(model.name, rows, _count(model.weights), _count(model.trainable_weights))


def _count(variables):
    unique = {id(v): v for v in variables}
    return sum(int(np.prod(v.shape)) for v in unique.values())


def _row(path, depth, layer):
    if operations.is_operation(layer):
        return LayerRow(name=layer.name, path=path, depth=depth, type=type(layer).__name__,
                        output_shape=output_shape(layer), params=0, trainable_params=0,
                        filters=None, units=None, kernel_size=None, strides=None,
                        activation=operations.activation(layer), trainable=False, operation=True)
    window = getattr(layer, "kernel_size", None) or getattr(layer, "pool_size", None)
    activation = getattr(layer, "activation", None)
    return LayerRow(
        name=layer.name,
        path=path,
        depth=depth,
        type=type(layer).__name__,
        output_shape=output_shape(layer),
        params=_count(layer.weights),
        trainable_params=_count(layer.trainable_weights),
        filters=_optional_int(getattr(layer, "filters", None)),
        units=_optional_int(getattr(layer, "units", None)),
        kernel_size=_int_tuple(window),
        strides=_int_tuple(getattr(layer, "strides", None)),
        activation=None if activation is None else getattr(activation, "__name__", type(activation).__name__),
        trainable=bool(layer.trainable),
    )


def _optional_int(value):
    return None if value is None else int(value)


def _int_tuple(value):
    if value is None:
        return None
    if isinstance(value, (tuple, list)):
        return tuple(int(v) for v in value)
    return (int(value),)


def _text(value):
    if value is None:
        return ""
    if isinstance(value, tuple):
        return "(" + ", ".join("None" if v is None else str(v) for v in value) + ")"
    return str(value)
