"""The FastAPI app: routes, error handlers, the page."""
from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from typing import Literal

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from syrisign.api.config import MEDIA_TYPES, SPOKEN_LANGUAGES, WEB_DIR, ServiceConfig
from syrisign.api.errors import ERROR_RESPONSES, ApiError
from syrisign.api.middleware import BodyLimit
from syrisign.api.models import TranslateRequest
from syrisign.api.service import Service

log = logging.getLogger("syrisign.api")


# -- the app --------------------------------------------------------------------------------------------------
def create_app(config: ServiceConfig | None = None, pipeline=None) -> FastAPI:
    """The FastAPI app. ``pipeline``: an already built :class:`~syrisign.pipeline.Pipeline` (tests use a
    small lexicon); otherwise one is built from ``config`` at start-up, in the background."""
    config = config or ServiceConfig()
    service = Service(config, pipeline)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        loader = asyncio.get_running_loop().run_in_executor(None, service.load)
        app.state.loader = loader
        try:
            yield
        finally:
            service.close()

    kwargs = dict(title="SyriSign", version=_version(), lifespan=lifespan,
                  description="Arabic text to sign-language skeleton animation (recorded signs, "
                              "T2M-GPT, MotionCLIP). Errors are JSON with a message saying what to change.")
    try:  # Swagger UI and ReDoc served from the package, not a CDN
        from fastapi_offline import FastAPIOffline
        app = FastAPIOffline(**kwargs)
    except ImportError:
        app = FastAPI(**kwargs)
    app.state.service = service

    if config.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware
        app.add_middleware(CORSMiddleware, allow_origins=list(config.cors_origins), allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Content-Type", "Authorization"], expose_headers=[
                               "X-SyriSign-Cache", "X-SyriSign-Coverage", "X-SyriSign-Methods", "X-SyriSign-Errors",
                               "Content-Disposition"])
    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes, upload_bytes=config.max_upload_bytes + 64 * 1024,
                       upload_paths=("/v1/contributions", "/v1/lexicon/entries"))
    from syrisign.api.contributions import add_routes
    add_routes(app, service)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        parts = []
        for err in exc.errors():
            where = ".".join(str(x) for x in err.get("loc", ()) if x not in ("body", "query"))
            parts.append(f"{where or 'request'}: {err.get('msg', 'invalid')}")
        return ApiError(422, "invalid_request", "; ".join(parts) or "invalid request").response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        codes = {400: "bad_body", 404: "not_found", 405: "method_not_allowed"}
        multipart = request.headers.get("content-type", "").startswith("multipart/")
        msg = {400: ("the form could not be read; send multipart/form-data with the fields word, english "
                     "(optional) and file (the video)") if multipart else (
                    "the request body is not valid JSON; send an object such as "
                    '{"text": "وزارة الصحة", "format": "mp4"} with Content-Type application/json'),
               404: f"no such path {request.url.path}; see /docs",
               405: f"{request.method} is not allowed on {request.url.path}; see /docs"}.get(exc.status_code,
                                                                                        str(exc.detail))
        return ApiError(exc.status_code, codes.get(exc.status_code, "http_error"), msg).response()

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unexpected error on %s", request.url.path)
        return ApiError(500, "internal_error", f"unexpected {type(exc).__name__}; the server log has the "
                                               "details").response()

    media = {"content": {t: {} for t in MEDIA_TYPES.values()}, "description": "the result in the asked format"}

    @app.post("/v1/translate", tags=["translate"], response_class=Response,
              responses={200: media, **ERROR_RESPONSES}, summary="Sign a text: video, .pose or JSON")
    async def translate_post(req: TranslateRequest) -> Response:
        return await service.translate(req.text, req.method, req.format, req.fps, req.signed, req.landmarks,
                                       (req.size, req.layout, req.insets))

    pose_media = {"content": {"application/pose": {}}, "description": "a .pose file (pose-format)"}

    async def translate_get(
            text: str = Query(min_length=1, description="Arabic text"),
            spoken: str = Query("ar", description="spoken language of the text (only ar)"),
            signed: str | None = Query(None, description="signed language whose signs come first (e.g. jos, sdl)"),
            method: Literal["retrieval", "generative", "motionclip"] = Query("retrieval"),
            fps: float = Query(25.0, ge=5, le=60)) -> Response:
        if spoken not in SPOKEN_LANGUAGES:
            raise ApiError(422, "unknown_spoken_language", f"spoken language {spoken!r} is not supported; "
                                                           f"SyriSign signs Arabic text: use spoken=ar")
        return await service.translate(text, method, "pose", fps, signed)

    desc = ("The sign.mt app's request to its translation server: GET with text, spoken and signed; answers a "
            ".pose body (application/pose).")
    get_errors = {k: v for k, v in ERROR_RESPONSES.items() if k != 400}
    app.get("/v1/translate", tags=["translate"], response_class=Response, responses={200: pose_media,
            **get_errors}, summary="Sign a text as a .pose file (sign.mt-compatible)",
            description=desc)(translate_get)
    app.get("/spoken_text_to_signed_pose", tags=["translate"], response_class=Response,
            responses={200: pose_media, **get_errors}, summary="Alias of GET /v1/translate (sign.mt path)",
            description=desc)(translate_get)

    @app.get("/v1/lexicon", tags=["lexicon"], responses={413: ERROR_RESPONSES[413], 503: ERROR_RESPONSES[503]},
             summary="Lexicon entries, optionally searched")
    async def lexicon(q: str = Query("", max_length=200, description="Arabic (normalized) or English substring"),
                      kind: Literal["word", "letter", "number"] | None = None,
                      signed: str | None = Query(None, max_length=16, description="only this signed language"),
                      offset: int = Query(0, ge=0, le=1_000_000), limit: int = Query(50, ge=1, le=500)) -> dict:
        return service.lexicon_page(q, kind, signed, offset, limit)

    @app.get("/v1/info", tags=["service"], summary="Methods, limits, signed languages, examples")
    async def info() -> dict:
        return dict(service.info(), stats=service.stats())

    @app.get("/healthz", tags=["service"], summary="Liveness: the process answers")
    async def healthz() -> dict:
        return {"status": "ok", "state": service.state}

    @app.get("/readyz", tags=["service"], responses={503: ERROR_RESPONSES[503]},
             summary="Readiness: lexicon and models loaded")
    async def readyz() -> dict:
        service.require_ready()
        return {"status": "ready", "methods": service.available(), "load_seconds": round(service.load_seconds, 2)}

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", media_type="text/html; charset=utf-8", headers=_PAGE_HEADERS)

    @app.get("/contribute", include_in_schema=False)
    async def contribute_page() -> FileResponse:
        return FileResponse(WEB_DIR / "contribute.html", media_type="text/html; charset=utf-8",
                            headers=_CONTRIBUTE_HEADERS)

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> FileResponse:
        # a fixed allow-list: the request's name never becomes a path
        if name not in _STATIC:
            raise ApiError(404, "not_found", f"no such file {name!r}")
        return FileResponse(WEB_DIR / name, media_type=_STATIC[name], headers=_PAGE_HEADERS)

    return app


_STATIC = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8",
           "contribute.js": "text/javascript; charset=utf-8"}
_PAGE_HEADERS = {
    # everything from this server: the page works offline and can reach nothing else
    "Content-Security-Policy": "default-src 'self'; media-src 'self' blob:; img-src 'self' data: blob:; "
                               "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache",
}
# the contribute page records with the camera (getUserMedia), on this origin only
_CONTRIBUTE_HEADERS = dict(_PAGE_HEADERS, **{"Permissions-Policy": "camera=(self), microphone=()"})


def _version() -> str:
    from syrisign import __version__
    return __version__


__all__ = ["create_app"]
