"""An interactive explorer of a model in the browser: `serve`.

    >>> server = keras_vis.serve(model, pictures, class_names=names, port=0, block=False)
    >>> print(server.url)                 # open it in the browser
    http://127.0.0.1:.../
    >>> server.stop()

or, from a shell, `keras-vis serve [--model PATH|NAME] [--images DIR] [--atlas FILE.npz]`. The page
is a local web app (Starlette on uvicorn) over the library's own techniques; see `docs/explorer.md`
for what it shows and its HTTP endpoints.
"""

from keras_vis.explorer.server import Server, serve

__all__ = ["Server", "serve"]
