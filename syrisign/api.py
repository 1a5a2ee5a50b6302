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

import asyncio
import copy
import dataclasses
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from syrisign.errors import SyriSignError

log = logging.getLogger("syrisign.api")

METHODS = ("retrieval", "generative", "motionclip")
MEDIA_TYPES = {"mp4": "video/mp4", "gif": "image/gif", "pose": "application/pose",
               "json": "application/json"}
SPOKEN_LANGUAGES = ("ar",)
WEB_DIR = Path(__file__).resolve().parent / "web"
CONFIG_ENV = "SYRISIGN_SERVE_CONFIG"
EXAMPLES = ["وزارة الصحة", "وزارة الصحة تسجل 200 إصابة جديدة", "الطبيب يفحص الرئتين والقفص الصدري",
            "افتتاح مستشفى جديد في دمشق", "هيكل عظمي وجمجمة في المتحف"]


# -- configuration ---------------------------------------------------------------------------------
@dataclass
class ServiceConfig:
    """What the service loads and the limits it enforces (``syrisign serve`` sets these from flags)."""

    lexicon: str | None = None  # folder, index.csv, "default" or "jos" (None: the default lexicon)
    translator: str | None = None  # see syrisign.translator.load_translator
    fuzzy: bool = True  # the retrieval model's matcher for inexact words
    methods: tuple[str, ...] = METHODS  # loaded at start-up; those that fail are reported, not fatal
    max_chars: int = 500  # longest text (413 past it)
    max_body_bytes: int = 64 * 1024  # longest request body (413)
    max_seconds: float = 180.0  # longest signing rendered (413 past it: a long text fingerspelled is minutes)
    max_landmark_frames: int = 1500  # longest output sent as JSON landmarks (413 past it: use format pose)
    jobs: int = 2  # translations/renderings running at once (threads)
    max_waiting: int = 64  # jobs waiting for a free slot before 429
    timeout: float = 60.0  # seconds a request may wait for its result (503 past it)
    size: int = 512  # default video panel width in pixels (and the .pose frame); a request may ask 128-1080
    cache_entries: int = 1024  # finished responses kept
    cache_mb: float = 256.0  # ... and their total size
    translation_cache_mb: float = 96.0  # translated (not yet encoded) results kept, so other formats are cheap
    cors_origins: tuple[str, ...] = ("*",)  # the sign.mt app calls from its own origin
    progress: bool = False  # progress bars while loading (first build of the default lexicon)
    warmup: bool = True  # sign one word with each method at start-up, so the first request is not the slow one

    @classmethod
    def from_env(cls) -> ServiceConfig:
        """The config ``syrisign serve`` put in ``$SYRISIGN_SERVE_CONFIG`` (JSON), else the defaults."""
        raw = os.environ.get(CONFIG_ENV, "").strip()
        if not raw:
            return cls()
        try:
            values = json.loads(raw)
        except json.JSONDecodeError as e:
            raise SyriSignError(f"${CONFIG_ENV} is not JSON ({e})") from None
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise SyriSignError(f"${CONFIG_ENV}: unknown setting(s) {', '.join(unknown)}")
        for k in ("methods", "cors_origins"):
            if k in values:
                values[k] = tuple(values[k])
        return cls(**values)

    def to_env(self) -> str:
        return json.dumps(dataclasses.asdict(self))


# -- errors ---------------------------------------------------------------------------------------
class ApiError(Exception):
    """An error answered as JSON ``{"error", "message", "status"}``; the message says what to change."""

    def __init__(self, status: int, code: str, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.retry_after = status, code, message, retry_after

    def response(self) -> JSONResponse:
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after else None
        return JSONResponse({"error": self.code, "message": self.message, "status": self.status},
                            status_code=self.status, headers=headers)


class ErrorBody(BaseModel):
    error: str = Field(description="machine-readable code, e.g. text_too_long, busy, not_ready")
    message: str = Field(description="what happened and what to change, one line")
    status: int


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "the body is not JSON"},
    413: {"model": ErrorBody, "description": "text or request body too long"},
    422: {"model": ErrorBody, "description": "invalid request, or nothing in the text can be signed"},
    429: {"model": ErrorBody, "description": "too many jobs waiting; retry after Retry-After seconds"},
    503: {"model": ErrorBody, "description": "still loading, method not trained, or timed out"},
}


# -- request models ---------------------------------------------------------------------------------
class TranslateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"text": "وزارة الصحة", "method": "retrieval", "format": "mp4", "fps": 25}]})

    text: str = Field(min_length=1, description="Arabic text (a headline); the limit is in GET /v1/info "
                                                "(413 past it)")
    method: Literal["retrieval", "generative", "motionclip", "all"] = Field(
        "retrieval", description="retrieval: recorded signs; generative: T2M-GPT; motionclip: MotionCLIP; "
                                 "all: every available method (videos side by side)")
    format: Literal["mp4", "gif", "pose", "json"] = Field(
        "mp4", description="mp4/gif video, .pose file (one method), or JSON with the gloss plan")
    fps: float = Field(25.0, ge=5, le=60, description="output frame rate")
    signed: str | None = Field(None, description="signed language whose signs come first where both "
                                                 "have one: one of the lexicon's (GET /v1/info), e.g. jos, sdl")
    landmarks: bool = Field(True, description="format json: include the landmarks (false: plan and segments)")
    size: int | None = Field(None, ge=128, le=1080, description="mp4/gif: video width in pixels (default: the "
                                                                "server's, GET /v1/info)")
    layout: Literal["square", "portrait"] = Field("square", description="mp4/gif: square, or portrait 9:16 for "
                                                                        "phones (hand close-ups in a row of their own)")
    insets: bool = Field(True, description="mp4/gif: hand close-ups that follow each active hand")


# -- small pieces -------------------------------------------------------------------------------------
def normalize_text(text: str) -> str:
    """The text the service translates and caches by: letters as written (ة, ى, hamza seats kept),
    tashkeel, tatweel and presentation forms removed, Eastern digits made Western, spaces collapsed.
    (:func:`syrisign.text.match_key` folds ة → ه, which signs differently, so it is not used here.)"""
    from syrisign.text import surface_form

    return " ".join(surface_form(text).split())


class LRUCache:
    """Responses by key, least recently used dropped first, bounded in entries and bytes (event loop only)."""

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._d: OrderedDict[tuple, tuple[bytes, dict]] = OrderedDict()
        self.bytes = 0
        self.hits = self.misses = 0

    def get(self, key: tuple) -> tuple[bytes, dict] | None:
        v = self._d.get(key)
        if v is None:
            self.misses += 1
            return None
        self._d.move_to_end(key)
        self.hits += 1
        return v

    def put(self, key: tuple, body: bytes, meta: dict) -> None:
        if len(body) > self.max_bytes or self.max_entries <= 0:
            return
        old = self._d.pop(key, None)
        if old is not None:
            self.bytes -= len(old[0])
        self._d[key] = (body, meta)
        self.bytes += len(body)
        while len(self._d) > self.max_entries or self.bytes > self.max_bytes:
            _, (b, _) = self._d.popitem(last=False)
            self.bytes -= len(b)

    def __len__(self) -> int:
        return len(self._d)


class Busy(Exception):
    pass


class JobRunner:
    """A fixed pool of worker threads with a bounded number of jobs admitted (running or waiting).

    A job that outlives its request's timeout keeps its slot until it really ends (threads cannot be
    killed), so a slow backlog turns into 429s instead of unbounded work."""

    def __init__(self, workers: int, max_waiting: int) -> None:
        self.workers = max(1, int(workers))
        self.capacity = self.workers + max(0, int(max_waiting))
        self.executor = ThreadPoolExecutor(self.workers, thread_name_prefix="syrisign-job")
        self.pending = 0
        self._lock = threading.Lock()

    def submit(self, fn, *args):
        with self._lock:
            if self.pending >= self.capacity:
                raise Busy()
            self.pending += 1
        try:
            cf = self.executor.submit(fn, *args)
        except BaseException:
            self._done(None)
            raise
        cf.add_done_callback(self._done)
        return asyncio.wrap_future(cf)

    def _done(self, _cf) -> None:
        with self._lock:
            self.pending -= 1

    def shutdown(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


def _public_entry(e: dict) -> dict:
    """A lexicon entry as the API shows it: no server file paths."""
    return {k: v for k, v in e.items() if k not in ("file", "path", "priority")}


def _public_plan(plan: dict, lexicon_name: str) -> dict:
    plan = dict(plan, lexicon=lexicon_name)
    plan["items"] = [dict(it, entries=[_public_entry(e) for e in it.get("entries", [])])
                     for it in plan.get("items", [])]
    return plan


def _header_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"))


# -- the service ------------------------------------------------------------------------------------------
class Service:
    """State shared by the endpoints: the loaded pipeline(s), the job pool and the caches."""

    def __init__(self, config: ServiceConfig, pipeline=None) -> None:
        self.config = config
        self.pipeline = pipeline
        self.state = "loading"  # loading | ready | failed
        self.error = ""
        self.methods: dict[str, dict] = {}  # method -> {"available": bool, "reason": str}
        self.pipelines: dict[str, Any] = {}  # signed language -> Pipeline preferring its signs
        self.signed_languages: list[str] = []
        self.cache = LRUCache(config.cache_entries, int(config.cache_mb * 1024 * 1024))
        self.translations: OrderedDict[tuple, tuple[Any, int]] = OrderedDict()  # key -> (Translation, bytes)
        self.translation_bytes = 0
        self.runner = JobRunner(config.jobs, config.max_waiting)
        self.inflight: dict[tuple, asyncio.Task] = {}
        self.produce_lock = threading.Lock()  # the pipeline's lexicon caches and models are shared
        self.tmp = Path(tempfile.mkdtemp(prefix="syrisign-api-"))
        self.started = time.time()
        self.load_seconds = 0.0
        self.jobs_done = 0

    # -- loading -------------------------------------------------------------------------------------
    def load(self) -> None:
        """Load the lexicon, translator and every configured method (runs once, in a thread)."""
        t0 = time.perf_counter()
        try:
            if self.pipeline is None:
                from syrisign.pipeline import Pipeline

                c = self.config
                self.pipeline = Pipeline(lexicon=c.lexicon, translator=c.translator, fuzzy=c.fuzzy,
                                         progress=c.progress, max_chars=c.max_chars)
            pipe = self.pipeline
            pipe.progress = False
            pipe.fuzzy_matcher()  # load the model now, before the per-request copies share it
            for m in self.config.methods:
                try:
                    pipe.producer(m)
                    self.methods[m] = {"available": True, "reason": ""}
                except SyriSignError as e:
                    self.methods[m] = {"available": False, "reason": str(e)}
                    log.warning("method %s not available: %s", m, e)
            if not any(v["available"] for v in self.methods.values()):
                raise SyriSignError("no method could be loaded: " + "; ".join(
                    f"{m}: {v['reason']}" for m, v in self.methods.items()))
            self.signed_languages = [s for s in pipe.lexicon.signed_languages if s]
            for code in self.signed_languages:
                self.pipelines[code] = _preferring(pipe, code)
            if self.config.warmup:
                self._warmup()
            self.state = "ready"
        except SyriSignError as e:
            self.state, self.error = "failed", str(e)
            log.error("the service could not load: %s", e)
        except Exception as e:  # noqa: BLE001 - a broken install must show in /readyz, not kill the loop
            self.state, self.error = "failed", f"{type(e).__name__}: {e}"
            log.exception("the service could not load")
        self.load_seconds = time.perf_counter() - t0
        if self.state == "ready":
            log.info("ready in %.1f s: lexicon %s (%d entries), methods %s", self.load_seconds,
                     self.pipeline.lexicon.name, len(self.pipeline.lexicon),
                     ", ".join(m for m, v in self.methods.items() if v["available"]))

    def _warmup(self) -> None:
        """Plan, produce and draw a frame once per method: imports, caches and model graphs get built now."""
        pipe = self.pipeline
        word = next((e.words for e in pipe.lexicon.entries if e.kind == "word"),
                    pipe.lexicon.entries[0].words if len(pipe.lexicon) else "")
        for m in self.available():
            try:
                result = pipe.translate(word, [m])
                from syrisign.pipeline import video_frames

                next(iter(video_frames(result, self.config.size)))
                import imageio_ffmpeg

                imageio_ffmpeg.get_ffmpeg_exe()  # found once, then cached
            except Exception as e:  # noqa: BLE001 - a request will show the error; the service still starts
                log.warning("warm-up of %s with %r failed: %s", m, word, e)

    def close(self) -> None:
        self.runner.shutdown()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def require_ready(self) -> None:
        if self.state == "loading":
            raise ApiError(503, "not_ready", "the service is still loading the lexicon and models; "
                                             "retry in a few seconds (GET /readyz says when it is ready)", 5)
        if self.state == "failed":
            raise ApiError(503, "not_ready", f"the service could not load: {self.error}")

    # -- checks ---------------------------------------------------------------------------------------------
    def resolve_methods(self, method: str) -> list[str]:
        if method == "all":
            ok = [m for m in METHODS if self.methods.get(m, {}).get("available")]
            if not ok:
                raise ApiError(503, "method_unavailable", "no method is available; see GET /v1/info")
            return ok
        info = self.methods.get(method)
        if info is None:
            raise ApiError(503, "method_unavailable", f"method {method} is not loaded by this server; "
                                                      f"use one of {', '.join(self.available())}")
        if not info["available"]:
            raise ApiError(503, "method_unavailable", f"method {method} is not available: {info['reason']} "
                                                      f"(or use method {self.available()[0]})")
        return [method]

    def available(self) -> list[str]:
        return [m for m, v in self.methods.items() if v["available"]]

    def check_text(self, text: str) -> str:
        if len(text) > self.config.max_chars:
            raise ApiError(413, "text_too_long", f"the text has {len(text)} characters; the limit is "
                                                 f"{self.config.max_chars}: send a shorter text or split it")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ApiError(422, "invalid_text", "the text is not valid Unicode (lone surrogate); "
                                                "send UTF-8 text") from None
        norm = normalize_text(text)
        if len(norm) > self.config.max_chars:  # NFKC can expand ligatures (ﷺ is 18 letters)
            raise ApiError(413, "text_too_long", f"the text has {len(norm)} characters once normalized; the "
                                                 f"limit is {self.config.max_chars}: send a shorter text")
        if not norm:
            raise ApiError(422, "nothing_to_sign", "the text is empty; send Arabic words to sign")
        return norm

    def check_signed(self, signed: str | None) -> str | None:
        if signed is None or signed == "":
            return None
        if signed not in self.pipelines:
            raise ApiError(422, "unknown_signed_language",
                           f"signed language {signed!r} is not in this lexicon; use one of "
                           f"{', '.join(self.signed_languages)} (or leave it out for the default mix)")
        return signed

    # -- the work ---------------------------------------------------------------------------------------
    async def translate(self, text: str, method: str, fmt: str, fps: float, signed: str | None,
                        landmarks: bool = True, video: tuple | None = None) -> Response:
        """``video`` is (size, layout, insets) for mp4/gif (None: the server's size, square, with close-ups)."""
        self.require_ready()
        norm = self.check_text(text)
        signed = self.check_signed(signed)
        methods = self.resolve_methods(method)
        if fmt == "pose" and method == "all":
            raise ApiError(422, "one_method_per_pose", "a .pose file holds one method's output; choose method "
                                                       f"{' or '.join(methods)}, or format json or mp4")
        fps = round(float(fps), 3)
        landmarks = bool(landmarks) if fmt == "json" else True
        size, layout, insets = video or (None, "square", True)
        video = (int(size or self.config.size), layout, bool(insets)) if fmt in ("mp4", "gif") else None
        key = (norm, method, fmt, fps, signed or "", landmarks, video)
        hit = self.cache.get(key)
        status = "hit"
        if hit is None:
            task = self.inflight.get(key)
            status = "shared" if task is not None else "miss"
            if task is None:
                try:
                    fut = self.runner.submit(self._job, norm, tuple(methods), method == "all", fmt, fps, signed,
                                             landmarks, time.perf_counter(), video)
                except Busy:
                    raise ApiError(429, "busy", f"{self.runner.pending} jobs are running or waiting; retry "
                                                "in a few seconds", 2) from None
                task = asyncio.ensure_future(self._finish(key, fut))
                task.add_done_callback(lambda t: t.cancelled() or t.exception())  # retrieved even if all time out
                self.inflight[key] = task
            try:
                hit = await asyncio.wait_for(asyncio.shield(task), self.config.timeout)
            except asyncio.TimeoutError:
                raise ApiError(503, "timeout", f"the result took longer than {self.config.timeout:g} s; "
                                               "send a shorter text, or retry later (it is cached when done)",
                               10) from None
        body, meta = hit
        headers = dict(meta["headers"], **{"X-SyriSign-Cache": status})
        if status == "hit":
            headers.pop("Server-Timing", None)  # the timing of the job that made it, long ago
        return Response(body, media_type=MEDIA_TYPES[fmt], headers=headers)

    async def _finish(self, key: tuple, fut) -> tuple[bytes, dict]:
        try:
            body, meta = await fut
            self.cache.put(key, body, meta)
            return body, meta
        finally:
            self.inflight.pop(key, None)

    def _job(self, norm: str, methods: tuple[str, ...], keep_going: bool, fmt: str, fps: float,
             signed: str | None, landmarks: bool, submitted: float, video: tuple | None = None) -> tuple[bytes, dict]:
        """In a worker thread: translate (or reuse the translation), then encode the format."""
        from syrisign.text import TextError

        t0 = time.perf_counter()
        t1 = t0
        pipe = copy.copy(self.pipelines.get(signed) if signed else self.pipeline)
        pipe.fps = fps  # the copy shares lexicon, translator and models; only fps differs
        tkey = (norm, methods, fps, signed or "")
        try:
            with self.produce_lock:
                kept = self.translations.get(tkey)
                if kept is None:
                    result = pipe.translate(norm, list(methods), keep_going=keep_going)
                    self._keep_translation(tkey, result)
                else:
                    result = kept[0]
                    self.translations.move_to_end(tkey)
            t1 = time.perf_counter()
            self._check_length(result, fmt, landmarks)
            body = self._encode(pipe, result, fmt, landmarks, video)
        except TextError as e:
            status = 413 if "limit is" in str(e) else 422
            raise ApiError(status, "nothing_to_sign" if status == 422 else "text_too_long", str(e)) from None
        except SyriSignError as e:
            raise ApiError(422, "cannot_sign", str(e)) from None
        finally:
            with self.runner._lock:
                self.jobs_done += 1
        headers = {"X-SyriSign-Coverage": f"{result.plan.coverage:.1f}",
                   "X-SyriSign-Methods": ",".join(result.outputs),
                   "Content-Disposition": f'inline; filename="syrisign-{"-".join(result.outputs)}.{fmt}"',
                   "Server-Timing": f"wait;dur={1000 * (t0 - submitted):.1f}, translate;dur={1000 * (t1 - t0):.1f}, "
                                    f"encode;dur={1000 * (time.perf_counter() - t1):.1f}"}
        if result.errors:
            headers["X-SyriSign-Errors"] = _header_json(result.errors)
        return body, {"headers": headers}

    def _check_length(self, result, fmt: str, landmarks: bool) -> None:
        frames = max(len(o.sequence) for o in result.outputs.values())
        seconds = frames / max(1e-6, max(o.sequence.fps for o in result.outputs.values()))
        if seconds > self.config.max_seconds:
            raise ApiError(413, "too_long_to_sign", f"the signing would last {seconds:.0f} s; the limit is "
                                                    f"{self.config.max_seconds:g} s: send a shorter text")
        if fmt == "json" and landmarks and frames > self.config.max_landmark_frames:
            raise ApiError(413, "too_many_landmarks", f"{frames} frames of landmarks is more than the "
                                                      f"{self.config.max_landmark_frames} sent as JSON: ask for "
                                                      "format pose, or landmarks false")

    def _keep_translation(self, key: tuple, result) -> None:
        """Keep ``result`` (under ``produce_lock``), oldest dropped past ``translation_cache_mb``."""
        size = sum(o.sequence.data.nbytes + o.sequence.confidence.nbytes for o in result.outputs.values())
        limit = self.config.translation_cache_mb * 1024 * 1024
        if size > limit:
            return
        self.translations[key] = (result, size)
        self.translation_bytes += size
        while self.translation_bytes > limit:
            _, (_, n) = self.translations.popitem(last=False)
            self.translation_bytes -= n

    def _encode(self, pipe, result, fmt: str, landmarks: bool, video: tuple | None = None) -> bytes:
        if fmt == "json":
            d = result.to_dict(landmarks=landmarks)
            d["plan"] = _public_plan(d["plan"], pipe.lexicon.name)
            d["fps"] = pipe.fps
            return json.dumps(d, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        if fmt == "pose":
            from syrisign.pipeline import to_pixel_frame

            (out,) = result.outputs.values()
            return to_pixel_frame(out.sequence, self.config.size).to_pose_bytes()
        # mp4 / gif: written into the service's private folder under a name made here, read back
        path = self.tmp / f"{uuid.uuid4().hex}.{fmt}"
        try:
            size, layout, insets = video or (self.config.size, "square", True)
            pipe.write(result, path, fmt, size=size, layout=layout, insets=insets)  # encoding: most of a request
            return path.read_bytes()
        finally:
            path.unlink(missing_ok=True)

    # -- lexicon and info ------------------------------------------------------------------------------------
    def lexicon_page(self, q: str, kind: str | None, signed: str | None, offset: int, limit: int) -> dict:
        self.require_ready()
        lex = self.pipeline.lexicon
        entries = lex.search(q) if q.strip() else list(lex.entries)
        if kind:
            entries = [e for e in entries if e.kind == kind]
        if signed:
            entries = [e for e in entries if e.signed_language == signed]
        page = entries[offset:offset + limit]
        return {"lexicon": lex.name, "total": len(entries), "offset": offset, "limit": limit,
                "entries": [dict(_public_entry(e.to_dict()), kind=e.kind) for e in page]}

    def info(self) -> dict:
        c = self.config
        lex = self.pipeline.lexicon if self.pipeline is not None and self.state == "ready" else None
        return {
            "status": self.state, "message": self.error,
            "methods": {m: self.methods.get(m, {"available": False, "reason": "loading"}) for m in c.methods},
            "formats": list(MEDIA_TYPES), "spoken_languages": list(SPOKEN_LANGUAGES),
            "signed_languages": self.signed_languages,
            "lexicon": {"name": lex.name, "entries": len(lex)} if lex is not None else None,
            "limits": {"max_chars": c.max_chars, "max_body_bytes": c.max_body_bytes, "max_seconds": c.max_seconds,
                       "max_landmark_frames": c.max_landmark_frames, "jobs": c.jobs,
                       "max_waiting": c.max_waiting, "timeout": c.timeout, "fps": [5, 60]},
            "size": c.size, "examples": EXAMPLES,
        }

    def stats(self) -> dict:
        return {"jobs_pending": self.runner.pending, "jobs_done": self.jobs_done, "cache_entries": len(self.cache),
                "cache_bytes": self.cache.bytes, "cache_hits": self.cache.hits, "cache_misses": self.cache.misses,
                "translations_kept": len(self.translations), "translation_bytes": self.translation_bytes,
                "uptime_s": round(time.time() - self.started, 1), "load_s": round(self.load_seconds, 2)}


def _preferring(pipe, code: str):
    """A copy of ``pipe`` whose lexicon puts ``code``'s signs first wherever both languages have one
    (e.g. KArSL's letters instead of the Jordanian ones); the other language still fills its gaps."""
    from syrisign.lexicon import Lexicon

    lex = pipe.lexicon
    if lex.signed_languages == [code]:
        return pipe
    entries = [dataclasses.replace(e, priority=e.priority + (0 if e.signed_language == code else 1000))
               for e in lex.entries]
    view = Lexicon(lex.root, entries, prefer=(code,) + tuple(p for p in lex.prefer if p != code),
                   missing_files=lex.missing_files)
    out = copy.copy(pipe)
    out.lexicon = view
    return out


# -- ASGI middleware: request body limit -------------------------------------------------------------------
class _TooLarge(Exception):
    pass


class BodyLimit:
    """413 for bodies over ``max_bytes``, by Content-Length or while streaming."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        too_large = ApiError(413, "body_too_large", f"the request body is over {self.max_bytes} bytes; "
                                                    "send a shorter text")
        for k, v in scope.get("headers", []):
            if k == b"content-length":
                try:
                    n = int(v)
                except ValueError:
                    n = 0
                if n > self.max_bytes:
                    return await too_large.response()(scope, receive, send)
        size, started = 0, False

        async def limited_receive():
            nonlocal size
            msg = await receive()
            size += len(msg.get("body", b""))
            if size > self.max_bytes:
                raise _TooLarge()
            return msg

        async def tracking_send(msg):
            nonlocal started
            started = started or msg["type"] == "http.response.start"
            await send(msg)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await too_large.response()(scope, receive, send)


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
        app.add_middleware(CORSMiddleware, allow_origins=list(config.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Content-Type"], expose_headers=[
                               "X-SyriSign-Cache", "X-SyriSign-Coverage", "X-SyriSign-Methods", "X-SyriSign-Errors",
                               "Content-Disposition"])
    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes)

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
        msg = {400: "the request body is not valid JSON; send an object such as "
                    '{"text": "وزارة الصحة", "format": "mp4"} with Content-Type application/json',
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

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> FileResponse:
        # a fixed allow-list: the request's name never becomes a path
        if name not in _STATIC:
            raise ApiError(404, "not_found", f"no such file {name!r}")
        return FileResponse(WEB_DIR / name, media_type=_STATIC[name], headers=_PAGE_HEADERS)

    return app


_STATIC = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8"}
_PAGE_HEADERS = {
    # everything from this server: the page works offline and can reach nothing else
    "Content-Security-Policy": "default-src 'self'; media-src 'self' blob:; img-src 'self' data: blob:; "
                               "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache",
}


def _version() -> str:
    from syrisign import __version__
    return __version__


def create_app_from_env() -> FastAPI:
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
           "TranslateRequest", "METHODS", "MEDIA_TYPES"]
