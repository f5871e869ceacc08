"""An interactive explorer of a model in the browser: `serve`.

    >>> server = keras_vis.serve(model, images, class_names=names, block=False)
    >>> print(server.url)                 # open it; server.stop() when done

or, from a shell, `keras-vis serve [--model PATH|NAME] [--images DIR] [--atlas FILE.npz]`. The page
is a local web app (Starlette on uvicorn) over the library's own techniques; see `docs/explorer.md`
for what it shows and its HTTP endpoints.
"""

from keras_vis.explorer.server import Server, serve

__all__ = ["Server", "serve"]
