"""The explorer's web app: a Starlette application over an `Explorer`.

Pages and scripts are read from the package once, at start; requests name images, layers, methods
and classes, never files. Computing endpoints are plain functions, which Starlette runs on its
thread pool, so many requests are answered at once; the upload endpoint reads the body as it
arrives and refuses it as soon as it passes the size limit.

Every error is JSON, `{"error": message}`: 400 for a bad parameter or a file that is not an image,
404 for an unknown image or job (or the atlas of an explorer given none), 413 for an upload too
large, 422 for a method that does not apply to this model, 500 (with the trace on the server's
stderr, not in the answer) for anything else.
"""

import importlib.resources
import io

import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from keras_vis.explorer.session import RequestError, TooLarge, too_large_message

# The page and what it loads: (route, file in `static/`, media type).
ASSETS = (("/", "index.html", "text/html; charset=utf-8"),
          ("/app.js", "app.js", "text/javascript; charset=utf-8"),
          ("/panels.js", "panels.js", "text/javascript; charset=utf-8"),
          ("/style.css", "style.css", "text/css; charset=utf-8"))
# How much of a body beyond the upload limit is read and dropped before answering 413.
_DRAIN_BYTES = 64 * 2**20
# Pictures do not change for a given URL while the explorer runs.
_PICTURE_HEADERS = {"Cache-Control": "private, max-age=3600"}


def _png(data):
    return Response(data, media_type="image/png", headers=_PICTURE_HEADERS)


def _npy(array):
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array, np.float32))
    return Response(buffer.getvalue(), media_type="application/octet-stream",
                    headers=_PICTURE_HEADERS)


def create_app(explorer):
    """The Starlette application serving `explorer` (a `keras_vis.explorer.session.Explorer`)."""
    assets = {route: (importlib.resources.files("keras_vis.explorer").joinpath("static", name)
                      .read_bytes(), media) for route, name, media in ASSETS}

    def asset(request):
        content, media = assets[request.url.path]
        return Response(content, media_type=media, headers={"Cache-Control": "no-cache"})

    def query(request, name):
        return request.query_params.get(name)

    def image(request):
        return explorer.image(request.path_params["image"])

    def model(request):
        return JSONResponse(explorer.describe_model())

    def images(request):
        return JSONResponse(explorer.images())

    def image_png(request):
        return _png(explorer.image_png(image(request)))

    def predictions(request):
        return JSONResponse(explorer.predictions(image(request)))

    def features(request):
        return _png(explorer.features_png(image(request), query(request, "layer"),
                                          query(request, "page")))

    def filters(request):
        return _png(explorer.filters_png(query(request, "layer"), query(request, "page")))

    def explanation(request):
        return _png(explorer.explanation_png(image(request), query(request, "method"),
                                             query(request, "class")))

    def explanation_map(request):
        return _npy(explorer.explanation_map(image(request), query(request, "method"),
                                             query(request, "class")))

    def occlusion(request):
        return JSONResponse(explorer.occlusion(image(request), query(request, "class")))

    def deconv(request):
        return JSONResponse(explorer.deconv(image(request), query(request, "layer")))

    def start_maximize(request):
        job = explorer.start_maximize(query(request, "layer"), query(request, "channel"))
        return JSONResponse(job.describe(), status_code=202)

    def job(request):
        return JSONResponse(explorer.job(request.path_params["job"]).describe())

    def job_image(request):
        found = explorer.job(request.path_params["job"])
        if found.state != "done":
            raise RequestError(f"Job {found.id} is {found.state}; its image is ready once "
                               "GET /api/jobs/{id} says done.")
        return _png(found.png)

    def atlas(request):
        return JSONResponse(explorer.describe_atlas())

    def atlas_png(request):
        return _png(explorer.atlas_png())

    async def upload(request):
        data = await _read_body(request, explorer.max_upload_bytes)
        name = request.headers.get("x-file-name") or request.query_params.get("name") or "upload"
        added = await run_in_threadpool(explorer.add_upload, data, name)
        return JSONResponse(added.describe(), status_code=201)

    routes = [Route(path, asset) for path, _, _ in ASSETS] + [
        Route("/api/model", model),
        Route("/api/images", images),
        Route("/api/images", upload, methods=["POST"]),
        Route("/api/images/{image}", image_png),
        Route("/api/images/{image}/predictions", predictions),
        Route("/api/images/{image}/features", features),
        Route("/api/images/{image}/explanation", explanation),
        Route("/api/images/{image}/map", explanation_map),
        Route("/api/images/{image}/occlusion", occlusion),
        Route("/api/images/{image}/deconv", deconv),
        Route("/api/filters", filters),
        Route("/api/atlas", atlas),
        Route("/api/atlas.png", atlas_png),
        Route("/api/maximize", start_maximize, methods=["POST"]),
        Route("/api/jobs/{job}", job),
        Route("/api/jobs/{job}/image", job_image),
    ]
    handlers = {RequestError: _request_error, ValueError: _bad_value, TypeError: _bad_value,
                HTTPException: _http_error, Exception: _internal_error}
    app = Starlette(routes=routes, exception_handlers=handlers)
    app.state.explorer = explorer
    return app


async def _read_body(request, limit):
    """The request body; 413 once it is known to exceed `limit` bytes.

    A body too large is still read (and dropped) up to `_DRAIN_BYTES` more, so that the client,
    still sending, receives the 413 answer instead of a connection reset.
    """
    declared = request.headers.get("content-length")
    size = int(declared) if declared is not None and declared.isdigit() else None
    chunks, received = [], 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit + _DRAIN_BYTES:
            break
        if received <= limit:
            chunks.append(chunk)
    if received > limit or (size is not None and size > limit):
        raise TooLarge(too_large_message(limit, size))
    if not received:
        raise RequestError("Expected an image file as the request body (PNG, JPEG, ...). "
                           "Received: an empty body. Send the file's bytes, e.g. "
                           "curl --data-binary @photo.jpg URL/api/images.")
    return b"".join(chunks)


def _error(status, message):
    return JSONResponse({"error": " ".join(str(message).split())}, status_code=status)


async def _request_error(request, error):
    return _error(error.status, error)


async def _bad_value(request, error):
    # The library's own checks: a layer it cannot use, a file that is not an image.
    return _error(400, error)


async def _http_error(request, error):
    return _error(error.status_code, error.detail)


async def _internal_error(request, error):
    # Starlette re-raises the error after this answer, so the server logs its trace.
    return _error(500, f"The explorer failed on {request.url.path}: {type(error).__name__}: "
                       f"{error}. The server's log has the details.")
