"""One HTML page that shows everything the package can say about a model and a few images.

    >>> from keras_vis.report import report
    >>> report(model, images, path="report.html", class_names=names)

The page holds the layer table, the first layers' filters, feature maps, activation maximization of
channels and classes, an activation atlas when one is given, and for each image every saliency and class-activation-map method, occlusion
and the deconvnet. Pictures are embedded as PNG data URIs, so the page is one file that opens
offline; it is written atomically.
"""

import datetime

from keras_vis import registry
from keras_vis._checks import expected
from keras_vis.atlas import Atlas
from keras_vis.layers import find_layer
from keras_vis.inspect import summary
from keras_vis.io import atomic_write, check_writable
from keras_vis._version import version
from keras_vis.progress import silenced
from keras_vis.report import page, techniques
from keras_vis.report.pictures import Picture
from keras_vis.report.progress import Progress
from keras_vis.report.settings import Settings
from keras_vis.report.subject import Subject, make_subject

# (anchor, navigation title) of each section, in page order.
SECTIONS = (
    ("model", "Model"),
    ("filters", "Filters"),
    ("features", "Feature maps"),
    ("maximization", "Activation maximization"),
    ("atlas", "Activation atlas"),
    ("explanations", "Explanations"),
    ("notes", "Notes"),
)
# One step per registry family, named by its lower-cased heading.
STEPS = ("layer table", "filters", "feature maps", "activation maximization",
         *(family.heading.lower() for family in registry.FAMILIES), "deconvnet")
# Tables longer than this start folded.
_FOLD_ROWS = 40


def build_report(subject, *, settings=None, target=None, progress=None, atlas=None):
    """Runs every technique on `subject` and returns the page as a string.

    Args:
        subject: a `Subject` (see `make_subject`).
        settings: a `Settings`; default `Settings()`.
        target: `None` to explain each image's predicted class, or a class index.
        progress: a `Progress` over `len(STEPS)` steps, or `None` for one that follows
            `settings.progress`. While it is live, the techniques' own progress bars stay quiet.
        atlas: `None`, or a `keras_vis.Atlas` (or the path of one saved by `Atlas.save`) of the
            subject's model, shown in a section of its own.

    Returns:
        The HTML document (str).
    """
    atlas = _atlas(subject, atlas)
    settings = settings or Settings()
    techniques.check(subject, settings)
    progress = progress or Progress(len(STEPS), enabled=settings.progress)
    # Its line is the job's one progress display: the techniques' own bars stay quiet.
    with silenced(progress.live):
        sections = _sections(subject, settings, target, progress, atlas)
    progress.finish()
    footer = (f"Made with keras-vis {page.escape(version())} on "
              f"{datetime.datetime.now():%Y-%m-%d %H:%M}.")
    nav = [(anchor, title) for anchor, title in SECTIONS if anchor != "atlas" or atlas]
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


def _sections(subject, settings, target, progress, atlas=None):
    """The HTML of every section, each step announced on `progress`."""
    sections, notes = [], []
    progress.step(STEPS[0])
    table = summary(subject.model)
    body = f'<div class="layers">{table._repr_html_()}</div>'
    if len(table) > _FOLD_ROWS:
        body = f"<details><summary>Show all {len(table)} layers</summary>{body}</details>"
    sections.append(page.section_html("model", "Model", "Every layer, with nested models expanded.",
                                      body))

    progress.step(STEPS[1])
    pictures, missing = _drawn(notes, "Filters", lambda: techniques.filter_pictures(
        subject, settings))
    sections.append(page.section_html(
        "filters", "Filters",
        "The weights of the first convolutions. The first layer's filters are drawn in colour: "
        "each shows the colour pattern it responds to.",
        page.pictures_html(pictures, missing)))

    progress.step(STEPS[2])
    pictures, missing = _drawn(notes, "Feature maps", lambda: techniques.feature_pictures(
        subject, settings))
    sections.append(page.section_html(
        "features", "Feature maps",
        "What the layers compute for each image: early layers respond to edges and colours, later "
        "ones to parts of the object, at a coarser resolution.",
        page.pictures_html(pictures, missing, detail=False)))

    progress.step(STEPS[3])
    pictures, missing = _drawn(notes, "Activation maximization",
                               lambda: techniques.maximization_pictures(subject, settings))
    sections.append(page.section_html(
        "maximization", "Activation maximization",
        "Images optimized from noise to excite one channel or one class as much as possible: what "
        "the network looks for.",
        page.pictures_html(pictures, missing)))

    if atlas is not None:
        pictures, missing = _drawn(notes, "The activation atlas",
                                   lambda: [techniques.atlas_picture(atlas)])
        sections.append(page.section_html(
            "atlas", "Activation atlas",
            f"What layer {atlas.layer} represents across {len(atlas.layout)} activation vectors "
            f"of a dataset: the vectors are laid out by {atlas.method} so that similar ones sit "
            "together, and each cell of the grid shows its mean vector rendered by feature "
            "visualization, framed in the colour of the class the model predicts most often for "
            "its images.", page.pictures_html(pictures, missing)))

    groups, skipped = [], []
    for family in registry.FAMILIES:
        progress.step(family.heading.lower())
        pictures, missed = techniques.family_pictures(subject, settings, target, family.name)
        groups.append((family.heading, pictures))
        skipped += missed
    notes += [f"{title} was not drawn: {reason}" for title, reason in skipped]
    progress.step(STEPS[-1])
    groups.append(("Deconvnet", _drawn(notes, "The deconvnet",
                                       lambda: techniques.deconv_pictures(subject, settings))[0]))
    sections.append(page.section_html(
        "explanations", "Explanations",
        f"Why the model gave {_target_text(subject, target)}, image by image. Gradient maps show "
        "which pixels the score is most sensitive to; class activation maps and occlusion show "
        "where the evidence lies (red: most); relevance maps share the logit out among the "
        "pixels (red: for the class, blue: against it); the deconvnet shows the pixels behind a "
        "layer's strongest activation.",
        _explanations_html(subject, settings, groups)))

    sections.append(page.section_html("notes", "Notes", None,
                                      _notes_html(subject, settings, notes)))
    return sections


def _drawn(notes, title, draw):
    """`(pictures, None)` from `draw()`, or, when it cannot draw on this model, `([], the
    sentence)`, the sentence also added to `notes`: one panel that cannot run costs its own
    pictures, never the report."""
    pictures, missed = techniques.attempt(title, draw)
    if not missed:
        return pictures, None
    sentence = f"{title} was not drawn: {missed[1]}"
    notes.append(sentence)
    return [], sentence


def _meta(subject, target):
    shape = "×".join(str(d) for d in subject.images.shape[1:])
    count = len(subject.images)
    return page.escape(
        f"Model {subject.model_name} · input {shape} · {subject.class_description} · "
        f"{count} image{'s' if count != 1 else ''} · explaining {_target_text(subject, target)}")


def _target_text(subject, target):
    return "the predicted class" if target is None else f"class “{subject.class_name(target)}”"


def _explanations_html(subject, settings, groups):
    common = {}
    for _, pictures in groups:
        for picture in pictures:
            common.setdefault((picture.name, picture.title), set()).add(picture.caption)
    # A caption shared by every image goes to the legend once; one that differs is shown per image.
    legend = [(title, next(iter(captions))) for (_, title), captions in common.items()
              if len(captions) == 1]
    shared = {title for title, _ in legend}
    html = [page.legend_html(legend)]
    for index, name in enumerate(subject.names):
        name = page.escape(name)
        html.append(f'<article class="image" id="image-{name}"><h3>{name}</h3>'
                    '<div class="explained"><div>')
        picture = techniques.input_picture(subject, settings, index)
        html.append(page.figure_html(picture, detail=False))
        html.append("</div><div>")
        for title, pictures in groups:
            mine = [p for p in pictures if p.image == index]
            if mine:
                html.append(f"<h4>{page.escape(title)}</h4>")
                html.append('<div class="row">' + "".join(
                    page.figure_html(p, detail=p.title not in shared) for p in mine) + "</div>")
        html.append("</div></div></article>")
    return "".join(html)


def _notes_html(subject, settings, notes):
    patch, stride = techniques.occlusion_patch(subject, settings)
    used = (f"Settings: {settings.maximize_steps} steps per channel image, {settings.class_steps} "
            f"per class image, {settings.smooth_samples} SmoothGrad samples, {settings.ig_steps} "
            f"integrated-gradients steps, occlusion patch {patch} with stride {stride}, seed "
            f"{settings.seed}.")
    items = "".join(f"<li>{page.escape(n)}</li>" for n in notes + [used])
    return f"<ul>{items}</ul>"


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


__all__ = ["Picture", "Settings", "Subject", "build_report", "make_subject", "report"]
