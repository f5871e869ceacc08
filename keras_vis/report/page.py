"""The report as one self-contained HTML page: inline style, pictures as base64 PNG data URIs, no
script and nothing fetched from elsewhere, so it opens anywhere, offline, and can be mailed."""

import base64
import html
import struct

STYLE = """
:root { color-scheme: light; --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --panel: #f6f8fa;
        --accent: #0969da; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue",
       Arial, sans-serif; color: var(--ink); background: #fff; }
header { padding: 24px 32px 12px; border-bottom: 1px solid var(--line); background: var(--panel); }
h1 { margin: 0 0 4px; font-size: 26px; }
h2 { margin: 32px 0 8px; font-size: 21px; border-bottom: 1px solid var(--line);
     padding-bottom: 4px; }
h3 { margin: 20px 0 6px; font-size: 17px; }
h4 { margin: 12px 0 4px; font-size: 14px; color: var(--muted); text-transform: uppercase;
     letter-spacing: .04em; }
main { padding: 0 32px 32px; max-width: 1400px; }
nav a { margin-right: 14px; color: var(--accent); text-decoration: none; }
p.meta, p.intro, .note { color: var(--muted); margin: 4px 0 10px; }
.row { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
figure { margin: 0; padding: 6px; border: 1px solid var(--line); border-radius: 6px;
         background: #fff; }
figure img { display: block; max-width: 100%; height: auto; }
figure img.pixel { image-rendering: pixelated; }
figcaption { font-size: 13px; margin-top: 4px; width: 0; min-width: 100%; }
figcaption .detail { display: block; color: var(--muted); font-size: 12px; }
article.image { border-top: 1px solid var(--line); margin-top: 18px; }
.explained { display: grid; grid-template-columns: max-content 1fr; gap: 6px 24px;
             align-items: start; }
.explained > div:first-child { padding-top: 12px; }
.explained h4:first-child { margin-top: 8px; }
.layers { overflow-x: auto; }
.layers table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
.layers th, .layers td { border-bottom: 1px solid var(--line); padding: 3px 10px;
                         white-space: nowrap; }
.layers tr:nth-child(even) td { background: var(--panel); }
details summary { cursor: pointer; color: var(--accent); }
dl.legend { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; font-size: 13px; }
dl.legend dt { font-weight: 600; }
dl.legend dd { margin: 0; color: var(--muted); }
footer { padding: 12px 32px; color: var(--muted); font-size: 12px;
         border-top: 1px solid var(--line); }
"""


def escape(text):
    return html.escape(str(text), quote=True)


def png_size(data):
    """`(width, height)` of PNG bytes, read from the IHDR chunk."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("Expected PNG bytes.")
    return struct.unpack(">II", data[16:24])


def data_uri(data):
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def figure_html(picture, *, detail=True, pixel=None):
    """A `<figure>` with the picture embedded and its title (and caption) under it.

    Args:
        picture: a `keras_vis.report.pictures.Picture`.
        detail: also show the caption (otherwise it is only the image's tooltip); the picture's
            own `detail` is always shown.
        pixel: draw the image with sharp pixels when the browser scales it; default for arrays.
    """
    data = picture.png()
    width, height = png_size(data)
    pixel = not hasattr(picture.content, "savefig") if pixel is None else pixel
    css = ' class="pixel"' if pixel else ""
    caption = f"<b>{escape(picture.title)}</b>"
    for text in (picture.detail, picture.caption if detail else ""):
        if text:
            caption += f'<span class="detail">{escape(text)}</span>'
    return (
        f"<figure><img{css} src=\"{data_uri(data)}\" width=\"{width}\" height=\"{height}\" "
        f"alt=\"{escape(picture.title)}\" title=\"{escape(picture.caption)}\">"
        f"<figcaption>{caption}</figcaption></figure>"
    )


def row_html(pictures, **options):
    return '<div class="row">' + "".join(figure_html(p, **options) for p in pictures) + "</div>"


def note_html(text):
    """A sentence in place of pictures that could not be drawn."""
    return f'<p class="note">{escape(text)}</p>'


def pictures_html(pictures, missing=None, **options):
    """The pictures in a row, or the sentence saying why there are none."""
    if not pictures and missing:
        return note_html(missing)
    return row_html(pictures, **options)


def section_html(anchor, title, intro, body):
    intro_html = f'<p class="intro">{intro}</p>' if intro else ""
    return f'<section id="{escape(anchor)}"><h2>{escape(title)}</h2>{intro_html}{body}</section>'


def legend_html(entries):
    """A definition list `title: how to read it` for pictures whose caption is the same for all."""
    items = "".join(f"<dt>{escape(t)}</dt><dd>{escape(c)}</dd>" for t, c in entries)
    return f'<dl class="legend">{items}</dl>'


def page_html(title, meta, nav, sections, footer):
    """The whole document."""
    links = "".join(f'<a href="#{escape(a)}">{escape(t)}</a>' for a, t in nav)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<header><h1>{escape(title)}</h1><p class=\"meta\">{meta}</p><nav>{links}</nav></header>"
        f"<main>{''.join(sections)}</main><footer>{footer}</footer></body></html>\n"
    )
