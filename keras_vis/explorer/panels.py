"""The explorer's panels, in page order: `PANELS`, one `Panel` each.

A panel says where the page puts it (`scope`), its heading and the sentence under it (`title`,
`intro`), which endpoint draws it (`endpoint`), how the user drives it (`control`) and when the
page shows it (`needs`). `/api/model` serves this list and the page builds every panel from it;
its `index.html` holds only the frame. Standard library only.

Adding a panel
    Write the `Explorer` method that computes it and its route in `app.py`, then add a `Panel` to
    `PANELS` with one of the `CONTROLS` the page knows: the page draws it, redraws it when a value
    its endpoint names changes, and hides it where its `needs` are not met.
"""

import dataclasses
import re

SCOPES = {
    "layer": "the section of the chosen layer",
    "model": "a section of its own",
    "class": "the section of the explained class",
}
"""Where a panel sits on the page, in page order."""

CONTROLS = {
    "pages": "a picture of the chosen layer's items, a page at a time, with a pager",
    "job": "one item of the chosen layer rendered in the background (POST), with a progress bar",
    "pictures": "captioned pictures computed when a button is pressed",
    "atlas": "a picture whose cells say what they hold when pointed at or clicked",
    "methods": "a card per registry method, each the picture of its map for the class",
}
"""How the user drives a panel: the kinds of control the page knows how to build."""

_NAMED = re.compile(r"\{(\w+)\}")


@dataclasses.dataclass(frozen=True)
class Panel:
    """One panel of the explorer's page.

    Attributes:
        id: its id on the page (`panel-<id>`).
        title: its heading.
        scope: where it sits, one of `SCOPES`.
        control: how the user drives it, one of `CONTROLS`.
        endpoint: the URL that draws it, with `{names}` the page fills: what is chosen
            (`{image}`, `{layer}`, `{class}`) and the control's own value (a `pages` panel's
            `{page}`, the item of a `job`, a `methods` panel's `{method}`). The page redraws it
            when a chosen value it names changes, and leaves it blank until all are chosen.
        intro: the sentence under the heading; `{field}`s are filled with the settings in use
            (`Explorer.settings_in_use`).
        needs: `"layer.<field>"` or `"model.<field>"`: shown only where that field of the chosen
            layer's row, or of `/api/model`, is set; `""`: always.
        count: for `pages` and `job`: the field of the layer's row that counts its items
            (`"channels"`).
        items: for `pages`: what is paged, in the pager buttons' labels (`"channels"`).
        action: for `job` and `pictures`: the label of the button that starts it.
        alt: the text of its picture for those who cannot see it.
    """

    id: str
    title: str
    scope: str
    control: str
    endpoint: str
    intro: str = ""
    needs: str = ""
    count: str = ""
    items: str = ""
    action: str = ""
    alt: str = ""

    def __post_init__(self):
        for name, known in (("scope", SCOPES), ("control", CONTROLS)):
            if getattr(self, name) not in known:
                raise ValueError(f"Expected `{name}` to be one of {', '.join(known)}. "
                                 f"Received: {name}={getattr(self, name)!r}")
        where, _, field = self.needs.partition(".")
        if self.needs and (where not in ("layer", "model") or not field):
            raise ValueError(f"Expected `needs` to be '', 'layer.<field>' or 'model.<field>'. "
                             f"Received: needs={self.needs!r}")
        if self.control in ("pages", "job") and not self.count:
            raise ValueError(f"Expected a `count` for a {self.control!r} panel. Received: "
                             f"panel {self.id!r} without one.")

    def names(self):
        """The values its endpoint names, in order."""
        return tuple(_NAMED.findall(self.endpoint))

    def describe(self, settings):
        """The panel as the page reads it (JSON-ready), with the `names` its endpoint holds and
        its intro filled from `settings`, the settings in use (`{field: value}`)."""
        return {**dataclasses.asdict(self), "names": list(self.names()),
                "intro": self.intro.format_map(settings)}


PANELS = (
    Panel("features", "Feature maps", "layer", "pages",
          "/api/images/{image}/features?layer={layer}&page={page}",
          "Each tile is one channel on this image, scaled to its own range (bright = strong).",
          count="channels", items="channels", alt="Feature maps of the chosen layer"),
    Panel("filters", "Filters", "layer", "pages", "/api/filters?layer={layer}&page={page}",
          "Each tile is one kernel of the convolution, rescaled to its own range.",
          needs="layer.filters_count", count="filters_count", items="filters",
          alt="Filters of the chosen layer"),
    Panel("maximize", "Maximize a channel", "layer", "job",
          "/api/maximize?layer={layer}&channel={channel}",
          "An image optimized from noise to excite the channel most: {maximize_steps} Adam "
          "steps at {maximize_size} pixels, rendered in the background.",
          count="channels", action="Render", alt="An image that maximizes the channel"),
    Panel("deconv", "Deconvnet", "layer", "pictures", "/api/images/{image}/deconv?layer={layer}",
          "The layer's strongest activation on the image, projected back to pixels (Zeiler & "
          "Fergus).", action="Project the strongest activation"),
    Panel("atlas", "Activation atlas", "model", "atlas", "/api/atlas",
          "What a layer represents across a dataset: its activation vectors laid out so that "
          "similar ones sit together, each cell rendering the mean vector of those it holds.",
          needs="model.atlas",
          alt="The activation atlas: each cell renders the mean activation vector of the samples "
              "laid out there"),
    Panel("methods", "Attribution maps", "class", "methods",
          "/api/images/{image}/explanation?method={method}&class={class}",
          "Every attribution method for the class, grouped by family, with the options it was "
          "computed with; a method that does not apply to the model says why."),
    Panel("occlusion", "Occlusion", "class", "pictures",
          "/api/images/{image}/occlusion?class={class}",
          "The drop of the class probability as a grey patch of {occlusion_patch}×"
          "{occlusion_patch} pixels slides over the image (stride {occlusion_stride}), and the "
          "image seen through the regions that matter most.",
          action="Slide a grey patch over the image"),
)
"""The explorer's panels, in page order within each scope."""
