"""The service: loaded pipeline(s), checks, the translate job, lexicon and info answers."""
from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
import logging
import shutil
import tempfile
import os
import threading
import time
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Any

from fastapi.responses import Response

from syrisign.api.cache import LRUCache
from syrisign.api.config import EXAMPLES, MEDIA_TYPES, METHODS, SPOKEN_LANGUAGES, ServiceConfig
from syrisign.api.errors import ApiError
from syrisign.api.jobs import Busy, JobRunner
from syrisign.errors import SyriSignError

log = logging.getLogger("syrisign.api")


# -- small pieces -------------------------------------------------------------------------------------
def normalize_text(text: str) -> str:
    """The text the service translates and caches by: letters as written (ة, ى, hamza seats kept),
    tashkeel, tatweel and presentation forms removed, Eastern digits made Western, spaces collapsed.
    (:func:`syrisign.text.match_key` folds ة → ه, which signs differently, so it is not used here.)"""
    from syrisign.text import surface_form

    return " ".join(surface_form(text).split())


def _public_entry(e: dict) -> dict:
    """A lexicon entry as the API shows it: no server file paths."""
    return {k: v for k, v in e.items() if k not in ("file", "path", "priority")}


def _public_plan(plan: dict, lexicon_name: str) -> dict:
    plan = dict(plan, lexicon=lexicon_name, notes=[public_message(n) for n in plan.get("notes", [])])
    plan["items"] = [dict(it, entries=[_public_entry(e) for e in it.get("entries", [])],
                          note=public_message(it.get("note", ""))) for it in plan.get("items", [])]
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
        from syrisign.api.config import load_tokens
        from syrisign.community import CommunityLexicon
        self.tokens = load_tokens(config)  # token -> contributor name; empty: writes are off
        self.community = CommunityLexicon(config.community or None)
        self.base_lexicon = None  # the lexicon without the community's signs
        self.contributions = None  # set by syrisign.api.contributions.add_routes
        # tests: called inside an add, before its commit (SYRISIGN_PAUSE_IN_ADD=FILE: write FILE, then wait, so a
        # test can kill the server there)
        self.pause_in_add = _pause_from_env()
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
                    self.methods[m] = {"available": False, "reason": public_message(str(e))}
                    log.warning("method %s not available: %s", m, e)
            if not any(v["available"] for v in self.methods.values()):
                raise SyriSignError("no method could be loaded: " + "; ".join(
                    f"{m}: {v['reason']}" for m, v in self.methods.items()))
            self.base_lexicon = _without_community(pipe.lexicon)
            self.refresh_lexicon()
            if self.config.warmup:
                self._warmup()
            self.state = "ready"
        except SyriSignError as e:
            self.state, self.error = "failed", public_message(str(e))
            log.error("the service could not load: %s", e)
        except Exception as e:  # noqa: BLE001 - a broken install must show in /readyz, not kill the loop
            self.state, self.error = "failed", f"{type(e).__name__}: {e}"
            log.exception("the service could not load")
        self.load_seconds = time.perf_counter() - t0
        if self.state == "ready":
            log.info("ready in %.1f s: lexicon %s (%d entries), methods %s", self.load_seconds,
                     self.pipeline.lexicon.name, len(self.pipeline.lexicon),
                     ", ".join(m for m, v in self.methods.items() if v["available"]))

    def refresh_lexicon(self) -> None:
        """The lexicon with the community's signs as they are now (after an add or a removal): the pipelines
        switch to it and the cached answers are dropped."""
        from syrisign.community import with_community

        with self.produce_lock:
            lex = with_community(self.base_lexicon, self.community)
            self.pipeline.set_lexicon(lex)
            self.signed_languages = [s for s in lex.signed_languages if s]
            self.pipelines = {code: _preferring(self.pipeline, code) for code in self.signed_languages}
            self.cache = LRUCache(self.config.cache_entries, int(self.config.cache_mb * 1024 * 1024))
            self.translations.clear()
            self.translation_bytes = 0

    def recognizer(self):
        """``recognize(seq) -> [(words, score)]`` with the retrieval model, or None when it is not trained."""
        try:
            from retrieval.producer import get_index
            index = get_index(lexicon=self.pipeline.lexicon)
        except (ImportError, SyriSignError):
            return None

        def recognize(seq):
            return [(m.label_ar or m.label_en, m.score) for m in index.recognize(seq, k=5)]
        return recognize

    def render_sequence(self, seq, caption: str) -> bytes:
        """A skeleton video of one recording as extracted (the contribute page shows it beside the camera's)."""
        from render.video import write_video

        path = self.tmp / f"{uuid.uuid4().hex}.mp4"
        try:
            write_video(seq.normalize(), path, size=min(self.config.size, 512),
                        captions=[(0, len(seq), caption, "")])
            return path.read_bytes()
        finally:
            path.unlink(missing_ok=True)

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
            headers["X-SyriSign-Errors"] = _header_json({m: public_message(e) for m, e in result.errors.items()})
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
            "contributions": {"enabled": bool(self.tokens), "max_upload_bytes": c.max_upload_bytes,
                              "max_upload_seconds": c.max_upload_seconds, "max_upload_frames": c.max_upload_frames,
                              "community_signs": len(self.community.records()) if self.community.exists() else 0},
        }

    def stats(self) -> dict:
        return {"jobs_pending": self.runner.pending, "jobs_done": self.jobs_done, "cache_entries": len(self.cache),
                "cache_bytes": self.cache.bytes, "cache_hits": self.cache.hits, "cache_misses": self.cache.misses,
                "translations_kept": len(self.translations), "translation_bytes": self.translation_bytes,
                "uptime_s": round(time.time() - self.started, 1), "load_s": round(self.load_seconds, 2)}


def _pause_from_env():
    marker = os.environ.get("SYRISIGN_PAUSE_IN_ADD")
    if not marker:
        return None

    def pause() -> None:
        Path(marker).write_text("paused inside an add, before its commit\n")
        time.sleep(600)
    return pause


def _without_community(lexicon):
    from syrisign.lexicon import Lexicon

    if not any(e.source == "community" for e in lexicon.entries):
        return lexicon
    return Lexicon(lexicon.root, [e for e in lexicon.entries if e.source != "community"], prefer=lexicon.prefer,
                   missing_files=lexicon.missing_files)


_PATH = __import__("re").compile(r"(?<![\w.])/(?:[^\s;,'\"()<>]+/)+([^\s;,'\"()<>]+)")


def public_message(msg: str) -> str:
    """A message with every absolute server path reduced to its file name (answers never show paths)."""
    return _PATH.sub(lambda m: m.group(1), msg or "")


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


