"""Running the model on many altered copies of each image, a bounded batch at a time.

SmoothGrad's noisy copies, integrated gradients' and GradientSHAP's path points, occluded copies and
Score-CAM's masked copies are all `copies` variants of each of `count` images. Rows are numbered
image-major (`image * copies + copy`); each chunk of at most `batch_size` rows is built with numpy
broadcasting by the caller's `make_batch(image_index, copy_index)` and goes through one call of the
cached compiled engine step, so no more than `batch_size` copies exist at once and nothing
retraces. Each copy is scored on its image's row of `classes`, the target's per-image data from
`resolve_classes` (class codes, region masks: what the unaltered image predicts), or on the
target's own data for `None`. The copies are the units of the job's `keras_vis.progress.Bar`,
shown when the job is long.
"""

import numpy as np

from keras_vis.engine import get_engine
from keras_vis.progress import Bar


def _chunks(count, copies, batch_size):
    total = count * copies
    for start in range(0, total, batch_size):
        rows = np.arange(start, min(start + batch_size, total))
        yield rows // copies, rows % copies


def _run(model, target, classes, count, copies, make_batch, *, batch_size, bar, **options):
    step = get_engine(model, (), target, **options)
    for image_index, copy_index in _chunks(count, copies, batch_size):
        made = make_batch(image_index, copy_index)
        batch, factors = made if isinstance(made, tuple) else (made, None)
        batch = np.asarray(batch, np.float32)
        class_index = None if classes is None else classes[image_index]
        yield image_index, copy_index, factors, step([batch], class_index, batch_size=len(batch))
        bar.advance(len(batch))


def _bar(count, copies, label, progress):
    return Bar(count * copies, label, unit="copies", enabled=progress)


def mean_input_gradients(model, target, classes, count, copies, make_batch, *, batch_size, head,
                         composite=None, label="gradients", progress=True):
    """The mean over its copies of the input gradient of each image: float32 `(count, H, W, C)`.

    `make_batch` may return `(copies, factors)` instead of the copies: the mean is then of the
    gradients times the factors (GradientSHAP: each copy's difference from its baseline). `label`
    names the job on its progress bar; `progress=False` shows none.
    """
    total = None
    with _bar(count, copies, label, progress) as bar:
        for image_index, _, factors, result in _run(model, target, classes, count, copies,
                                                    make_batch, batch_size=batch_size, bar=bar,
                                                    head=head, composite=composite):
            gradients = result.input_grads[0]
            if factors is not None:
                gradients = gradients * factors
            if total is None:
                total = np.zeros((count,) + gradients.shape[1:], np.float64)
            starts = np.flatnonzero(np.r_[True, image_index[1:] != image_index[:-1]])
            total[image_index[starts]] += np.add.reduceat(gradients, starts, axis=0)
    return (total / copies).astype(np.float32)


def copy_scores(model, target, classes, count, copies, make_batch, *, batch_size, head,
                label="scores", progress=True):
    """The target score of every copy, forward passes only: float32 `(count, copies)`.

    `label` names the job on its progress bar; `progress=False` shows none.
    """
    table = np.empty((count, copies), np.float32)
    with _bar(count, copies, label, progress) as bar:
        results = _run(model, target, classes, count, copies, make_batch, batch_size=batch_size,
                       bar=bar, head=head, input_grads=False)
        for image_index, copy_index, _, result in results:
            table[image_index, copy_index] = result.scores
    return table
