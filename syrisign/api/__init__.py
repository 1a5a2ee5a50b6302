"""The HTTP service: Arabic text to sign-language skeleton video over HTTP, and the web page.

    uvicorn --factory syrisign.api:create_app_from_env       # or: syrisign serve
    app = create_app(ServiceConfig(max_chars=200), pipeline=Pipeline(lexicon=my_lexicon))   # tests

Endpoints (OpenAPI at ``/openapi.json``, browsable at ``/docs`` and ``/redoc`` without a CDN):

- ``POST /v1/translate`` ``{text, method, format, fps, signed, landmarks}`` → the video (mp4, gif),
  the ``.pose`` file, or the gloss plan with landmarks as JSON;
- ``GET /v1/translate?text=&spoken=ar&signed=jos`` → a ``.pose`` body, the request the sign.mt app
  makes to its translation server (also at ``/spoken_text_to_signed_pose``), so that app can use
  SyriSign as its backend;
- ``GET /v1/lexicon`` (entries, ``q`` search), ``GET /v1/info`` (methods, limits, examples);
- ``GET /healthz`` (the process answers), ``GET /readyz`` (lexicon and models loaded);
- ``GET /`` the page (``syrisign/web``: right-to-left Arabic, no external resource).

The lexicon, translator and every trained model are loaded once, in a background thread at
start-up (``/readyz`` says when). Translation and rendering run in a bounded thread pool, never
on the event loop; identical requests in flight share one job; finished results are kept in an
LRU cache keyed by the normalized text, method, format, fps and signed language. Errors are JSON
``{"error": code, "message": what to change, "status": n}``: 413 (text or body too long), 422
(invalid request, nothing to sign), 429 (too many jobs waiting), 503 (loading, model not
trained, timed out). Nothing from a request is ever used as a file path.
"""
from __future__ import annotations

from syrisign.api.config import CONFIG_ENV, MEDIA_TYPES, METHODS, ServiceConfig
from syrisign.api.errors import ApiError
from syrisign.api.models import TranslateRequest
from syrisign.api.service import Service, normalize_text


def create_app(config=None, pipeline=None):
    """The FastAPI app (:func:`syrisign.api.app.create_app`)."""
    from syrisign.api.app import create_app as _create
    return _create(config, pipeline)


def create_app_from_env():
    """The app with the config ``syrisign serve`` passed in ``$SYRISIGN_SERVE_CONFIG`` (uvicorn ``--factory``)."""
    return create_app(ServiceConfig.from_env())


def __getattr__(name: str):
    # ``uvicorn syrisign.api:app`` works too; the app is made on first access, not at import
    if name == "app":
        app = create_app_from_env()
        globals()["app"] = app
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ServiceConfig", "Service", "create_app", "create_app_from_env", "normalize_text", "ApiError",
           "TranslateRequest", "METHODS", "MEDIA_TYPES", "CONFIG_ENV"]
