"""The region of every feature map of the local part that a patch of the input changes.

Per axis and per patch position, a window call changes the outputs whose windows overlap the
changed region of its input (`keras_vis.spatial.AxisWindow.reached`), a per-position call the
same region, a merge the bounding interval of its inputs' regions. Each node's region has one size
for all positions (the largest; a region near a border is shifted inward to keep it), so the
regions of a batch of copies stack into one tensor: computing a few unchanged positions more
changes no value.

With `approximate=τ` (Krypton's projective-field threshold), the growth of a window call's region is
cut: its side is at most `τ` times the side of the call's map (but never below the input region's
own projection, `ceil(side / stride)`), the cut keeping the centre of the exact region; what lies
beyond keeps its unoccluded value. The deep, small maps, where an exact region soon covers the
whole map, are the ones cut.
"""

import dataclasses
import math

import numpy as np


@dataclasses.dataclass(frozen=True)
class Regions:
    """The changed region of each node for each patch position.

    Attributes:
        starts: int32 `(positions, nodes, 2)`: the first row and column of each region.
        sizes: one `(height, width)` per node, the same for every position.
    """

    starts: np.ndarray
    sizes: tuple


def _window_axis(axis, start, size, approximate):
    """The region `(starts, size)` of a window call's output along one axis."""
    first, stop = axis.reached(start, start + size)
    length = max(int(np.max(stop - first)), 1)
    if approximate is not None:
        cap = max(math.ceil(approximate * axis.output_size), -(-size // axis.stride))
        if length > cap:
            first = first + np.maximum(stop - first - cap, 0) // 2
            length = cap
    return np.clip(first, 0, axis.output_size - length), length


def _merge_axis(starts, sizes, map_size):
    first = np.min([s for s in starts], axis=0)
    stop = np.max([s + n for s, n in zip(starts, sizes)], axis=0)
    length = min(int(np.max(stop - first)), map_size)
    return np.clip(first, 0, map_size - length), length


def propagate(part, patch_starts, patch_size, approximate=None):
    """The `Regions` of `part`'s nodes for a patch of `patch_size` at each of `patch_starts`.

    Args:
        part: a `LocalPart`.
        patch_starts: int `(positions, 2)`: each patch's top-left corner.
        patch_size: the patch's `(height, width)`.
        approximate: `None` (exact) or the threshold τ in (0, 1].
    """
    patch_starts = np.asarray(patch_starts, np.int64)
    index = {id(node): k for k, node in enumerate(part.nodes)}
    starts = [patch_starts]
    sizes = [tuple(patch_size)]
    for node in part.nodes[1:]:
        inputs = [index[id(source)] for source in node.inputs]
        if node.kind == "pointwise":
            starts.append(starts[inputs[0]])
            sizes.append(sizes[inputs[0]])
            continue
        axis_starts, axis_sizes = [], []
        for axis in range(2):
            if node.kind == "window":
                found = _window_axis(node.axes[axis], starts[inputs[0]][:, axis],
                                     sizes[inputs[0]][axis], approximate)
            else:
                found = _merge_axis([starts[k][:, axis] for k in inputs],
                                    [sizes[k][axis] for k in inputs], node.shape[axis])
            axis_starts.append(found[0])
            axis_sizes.append(found[1])
        starts.append(np.stack(axis_starts, axis=-1))
        sizes.append(tuple(axis_sizes))
    return Regions(np.stack(starts, axis=1).astype(np.int32), tuple(sizes))


def direct_reads(part, regions):
    """The nodes that read their inputs' changed regions exactly as they are, at every position:
    per-position calls; merges whose inputs changed on the merge's own region; window calls (a
    1×1 convolution) whose windows over their region are their input's region. Those need no
    cached map pasted around their inputs.

    Returns:
        A frozenset of node indices.
    """
    index = {id(node): k for k, node in enumerate(part.nodes)}
    starts, sizes = regions.starts, regions.sizes
    direct = set()
    for k, node in enumerate(part.nodes[1:], 1):
        sources = [index[id(source)] for source in node.inputs]
        if node.kind == "window":
            (source,) = sources
            same = all(axis.read_length(sizes[k][a]) == sizes[source][a]
                       and np.array_equal(axis.first_read(starts[:, k, a]), starts[:, source, a])
                       for a, axis in enumerate(node.axes))
        else:
            same = node.kind == "pointwise" or all(
                sizes[source] == sizes[k] and np.array_equal(starts[:, source], starts[:, k])
                for source in sources)
        if same:
            direct.add(k)
    return frozenset(direct)


def cost_fraction(part, regions):
    """The estimated cost of computing one occluded copy incrementally, as a fraction of the
    cost of computing it whole: each local map costs the share of it its region covers."""
    local = sum(node.cost * (h * w) / (node.shape[0] * node.shape[1])
                for node, (h, w) in zip(part.nodes, regions.sizes))
    full = part.full_cost
    return (local + part.rest_cost) / full if full else 1.0
