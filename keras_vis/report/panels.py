"""The sections of the report, in page order: `PANELS`, one `Panel` each.

A panel says where it sits (`anchor`, `title`), what it announces on the report's one progress
display (`steps`), and how its content is drawn (`body`). The report's loop, its navigation and
the count of its progress steps are all read from this list.

Adding a panel
    Write the function that draws its pictures, `f(subject, settings) -> [Picture]` (see
    `keras_vis.report.techniques`), and add `picture_panel(anchor, title, intro, lambda context:
    f(context.subject, context.settings))` to `PANELS` where the page should show it. A drawing that cannot run on the model becomes a note of the
    Notes section and costs only its own pictures.
"""

import dataclasses
import typing

from keras_vis import registry
from keras_vis.inspect import summary
from keras_vis.report import page, techniques

# Tables longer than this start folded.
_FOLD_ROWS = 40


@dataclasses.dataclass
class Context:
    """What every panel draws from: the subject, the settings, the class explained (`None`: the
    predicted one), the atlas (or `None`), the report's progress display, and the notes the Notes
    section lists (panels add theirs)."""

    subject: typing.Any
    settings: typing.Any
    target: typing.Optional[int]
    atlas: typing.Any
    progress: typing.Any
    notes: list = dataclasses.field(default_factory=list)


def _always(context):
    return True


@dataclasses.dataclass(frozen=True)
class Panel:
    """One section of the report.

    Attributes:
        anchor: its id in the page, and its navigation link.
        title: its heading and navigation title.
        steps: the progress steps its `body` announces, in order.
        body: `f(context) -> HTML` of its content; it announces `steps` on `context.progress`.
        intro: the paragraph under the heading: a string, or `f(context) -> str`; `None` for none.
        shown: `f(context) -> bool`: whether the page has it.
    """

    anchor: str
    title: str
    steps: typing.Tuple[str, ...]
    body: typing.Callable
    intro: typing.Any = None
    shown: typing.Callable = _always

    def html(self, context):
        """The section's HTML."""
        body = self.body(context)
        intro = self.intro(context) if callable(self.intro) else self.intro
        return page.section_html(self.anchor, self.title, intro, body)


def drawn(notes, title, draw):
    """`(pictures, None)` from `draw()`, or, when it cannot draw on this model, `([], the
    sentence)`, the sentence also added to `notes`: one panel that cannot run costs its own
    pictures, never the report."""
    pictures, missed = techniques.attempt(title, draw)
    if not missed:
        return pictures, None
    sentence = f"{title} was not drawn: {missed[1]}"
    notes.append(sentence)
    return [], sentence


def picture_panel(anchor, title, intro, draw, *, detail=True, shown=_always):
    """A panel of pictures: `draw(context) -> [Picture]`, drawn as one progress step (the title,
    lower-cased); `detail=False` leaves out the pictures' captions."""
    step = title.lower()

    def body(context):
        context.progress.step(step)
        pictures, missing = drawn(context.notes, title, lambda: draw(context))
        return page.pictures_html(pictures, missing, detail=detail)

    return Panel(anchor, title, (step,), body, intro, shown)


def _layer_table(context):
    context.progress.step("layer table")
    table = summary(context.subject.model)
    body = f'<div class="layers">{table._repr_html_()}</div>'
    if len(table) > _FOLD_ROWS:
        body = f"<details><summary>Show all {len(table)} layers</summary>{body}</details>"
    return body


def target_text(subject, target):
    return "the predicted class" if target is None else f"class “{subject.class_name(target)}”"


def _explanations(context):
    subject, settings = context.subject, context.settings
    groups, skipped = [], []
    for family in registry.FAMILIES:
        context.progress.step(family.heading.lower())
        pictures, missed = techniques.family_pictures(subject, settings, context.target,
                                                      family.name)
        groups.append((family.heading, pictures))
        skipped += missed
    context.notes += [f"{title} was not drawn: {reason}" for title, reason in skipped]
    context.progress.step("deconvnet")
    groups.append(("Deconvnet", drawn(context.notes, "The deconvnet",
                                      lambda: techniques.deconv_pictures(subject, settings))[0]))
    return _explanations_html(subject, settings, groups)


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


def _notes(context):
    patch, stride = techniques.occlusion_patch(context.subject, context.settings)
    settings = context.settings
    used = (f"Settings: {settings.maximize_steps} steps per channel image, {settings.class_steps} "
            f"per class image, {settings.smooth_samples} SmoothGrad samples, {settings.ig_steps} "
            f"integrated-gradients steps, occlusion patch {patch} with stride {stride}, seed "
            f"{settings.seed}.")
    items = "".join(f"<li>{page.escape(n)}</li>" for n in context.notes + [used])
    return f"<ul>{items}</ul>"


def _atlas_intro(context):
    atlas = context.atlas
    return (f"What layer {atlas.layer} represents across {len(atlas.layout)} activation vectors "
            f"of a dataset: the vectors are laid out by {atlas.method} so that similar ones sit "
            "together, and each cell of the grid shows its mean vector rendered by feature "
            "visualization, framed in the colour of the class the model predicts most often for "
            "its images.")


def _explanations_intro(context):
    return (f"Why the model gave {target_text(context.subject, context.target)}, image by image. "
            "Gradient maps show which pixels the score is most sensitive to; class activation "
            "maps and occlusion show where the evidence lies (red: most); relevance maps share "
            "the logit out among the pixels (red: for the class, blue: against it); the "
            "deconvnet shows the pixels behind a layer's strongest activation.")


PANELS = (
    Panel("model", "Model", ("layer table",), _layer_table,
          "Every layer, with nested models expanded."),
    picture_panel(
        "filters", "Filters",
        "The weights of the first convolutions. The first layer's filters are drawn in colour: "
        "each shows the colour pattern it responds to.",
        lambda context: techniques.filter_pictures(context.subject, context.settings)),
    picture_panel(
        "features", "Feature maps",
        "What the layers compute for each image: early layers respond to edges and colours, later "
        "ones to parts of the object, at a coarser resolution.",
        lambda context: techniques.feature_pictures(context.subject, context.settings),
        detail=False),
    picture_panel(
        "maximization", "Activation maximization",
        "Images optimized from noise to excite one channel or one class as much as possible: what "
        "the network looks for.",
        lambda context: techniques.maximization_pictures(context.subject, context.settings)),
    picture_panel(
        "atlas", "Activation atlas", _atlas_intro,
        lambda context: [techniques.atlas_picture(context.atlas)],
        shown=lambda context: context.atlas is not None),
    Panel("explanations", "Explanations",
          (*(family.heading.lower() for family in registry.FAMILIES), "deconvnet"),
          _explanations, _explanations_intro),
    # Last: it lists what the others noted.
    Panel("notes", "Notes", (), _notes),
)
"""The report's sections, in page order."""

STEPS = tuple(step for panel in PANELS for step in panel.steps)
"""Every progress step of a report that shows every panel, in order."""
