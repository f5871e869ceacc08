"""One HTML page that shows everything the package can say about a model and a few images.

    >>> from keras_vis.report import report
    >>> report(model, images, path="report.html", class_names=names)  # doctest: +SKIP

(It runs every technique, as `make demo` does; the tests run it with smaller settings.)

The page holds the sections of `keras_vis.report.panels.PANELS`: the layer table, the first
layers' filters, feature maps, activation maximization of channels and classes, an activation
atlas when one is given, and for each image every saliency and class-activation-map method,
occlusion and the deconvnet. Pictures are embedded as PNG data URIs, so the page is one file that opens
offline; it is written atomically.
"""

import datetime

from keras_vis._checks import expected
from keras_vis.atlas import Atlas
from keras_vis.layers import find_layer
from keras_vis.io import atomic_write, check_writable
from keras_vis._version import version
from keras_vis.progress import silenced
from keras_vis.report import page, techniques
from keras_vis.report.panels import PANELS, STEPS, Context, target_text
from keras_vis.report.pictures import Picture
from keras_vis.report.progress import Progress
from keras_vis.report.settings import Settings
from keras_vis.report.subject import Subject, make_subject


def build_report(subject, *, settings=None, target=None, progress=None, atlas=None):
    """Runs every technique on `subject` and returns the page as a string.

    Args:
        subject: a `Subject` (see `make_subject`).
        settings: a `Settings`; default `Settings()`.
        target: `None` to explain each image's predicted class, or a class index.
        progress: a `Progress` over the steps of the panels shown (`panels.STEPS`, less the
            atlas's without an atlas), or `None` for one that follows `settings.progress`.
            While it is live, the techniques' own progress bars stay quiet.
        atlas: `None`, or a `keras_vis.Atlas` (or the path of one saved by `Atlas.save`) of the
            subject's model, shown in a section of its own.

    Returns:
        The HTML document (str).
    """
    atlas = _atlas(subject, atlas)
    settings = settings or Settings()
    techniques.check(subject, settings)
    context = Context(subject, settings, target, atlas, progress=None)
    shown = [panel for panel in PANELS if panel.shown(context)]
    context.progress = progress or Progress(sum(len(panel.steps) for panel in shown),
                                            enabled=settings.progress)
    # Its line is the job's one progress display: the techniques' own bars stay quiet.
    with silenced(context.progress.live):
        sections = [panel.html(context) for panel in shown]
    context.progress.finish()
    footer = (f"Made with keras-vis {page.escape(version())} on "
              f"{datetime.datetime.now():%Y-%m-%d %H:%M}.")
    nav = [(panel.anchor, panel.title) for panel in shown]
    return page.page_html(f"keras-vis report: {subject.model_name}", _meta(subject, target),
                          nav, sections, footer)


def _atlas(subject, atlas):
    """The atlas to show, loaded if a path, checked to be of a layer of the subject's model."""
    if atlas is None:
        return None
    if not isinstance(atlas, Atlas):
        atlas = Atlas.load(atlas)
    try:
        find_layer(subject.model, atlas.layer)
    except ValueError:
        raise ValueError(expected("atlas", f"an atlas of a layer of model '{subject.model_name}'",
                                  f"an atlas of layer '{atlas.layer}', which it does not have")
                         ) from None
    return atlas


def _meta(subject, target):
    shape = "×".join(str(d) for d in subject.images.shape[1:])
    count = len(subject.images)
    return page.escape(
        f"Model {subject.model_name} · input {shape} · {subject.class_description} · "
        f"{count} image{'s' if count != 1 else ''} · explaining {target_text(subject, target)}")


def report(model, images, target=None, *, path, names=None, preprocess=None, class_names=None,
           settings=None, atlas=None):
    """Writes the report of `model` on `images` to `path` (atomically) and returns the path.

    Args:
        model: a built `keras.Model` with one image input.
        images: pictures `(N, H, W, C)` at the model's input size, uint8 0–255 or float 0–1.
        target: `None` to explain the predicted class of each image, or a class index.
        path: the `.html` file to write (folders are created).
        names: one name per image.
        preprocess: maps float32 pictures with values 0–255 to the model's input (e.g.
            `keras.applications.vgg16.preprocess_input`); default the identity.
        class_names: the model's class names in output order.
        settings: a `Settings` (step counts, layers, `progress`).
        atlas: `None`, or an activation atlas of the model to show: a `keras_vis.Atlas` or the
            `.npz` path of one (`Atlas.save`).

    Returns:
        The `pathlib.Path` written.
    """
    path = check_writable(path)
    subject = make_subject(model, images, names=names, preprocess=preprocess,
                           class_names=class_names)
    document = build_report(subject, settings=settings, target=target, atlas=atlas)
    with atomic_write(path, "w", encoding="utf-8") as file:
        file.write(document)
    return path


__all__ = ["PANELS", "Picture", "STEPS", "Settings", "Subject", "build_report", "make_subject",
           "report"]
