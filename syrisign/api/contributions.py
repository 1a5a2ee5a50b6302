"""Community contributions over HTTP: upload a sign, check it, add it; list and remove community signs.

- ``POST /v1/contributions`` (multipart ``word``, ``english``, ``file``; token) → 202 ``{id}``: the video is
  decoded, its landmarks extracted and checked in the job pool; ``GET /v1/contributions/{id}`` tells the
  stage and progress, then the checks; ``GET /v1/contributions/{id}/preview`` is the skeleton video of what
  would be added; ``POST /v1/contributions/{id}/confirm`` adds it (201, or 422 when a check failed).
- ``POST /v1/lexicon/entries`` (same form) does all of it in one request: 201 with the entry and its checks,
  or 422 with the failed checks and nothing added.
- ``GET /v1/lexicon/entries?source=community`` lists the community signs; ``DELETE /v1/lexicon/entries/{id}``
  (token) removes one (undone with ``syrisign lexicon remove --restore``).

Writes need ``Authorization: Bearer <token>`` (``syrisign serve --tokens FILE`` or ``$SYRISIGN_TOKENS``):
401 without one, 403 with a wrong one or when the server has no tokens (writes off). Uploads are bounded in
bytes (the body limit), seconds and frames, and typed by their content; no client string becomes a path.
"""
from __future__ import annotations

import asyncio
import hmac
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field

from fastapi import Depends, FastAPI, File, Form, Header, Query, UploadFile
from fastapi.responses import JSONResponse, Response

from syrisign.api.errors import ApiError, ErrorBody
from syrisign.errors import SyriSignError

log = logging.getLogger("syrisign.api")
KEEP_SECONDS = 1800  # a checked upload waits this long for its confirmation
MAX_PENDING = 32


@dataclass
class Contribution:
    id: str
    word: str
    english: str
    added_by: str
    status: str = "queued"  # queued | decoding | extracting | checking | ready | failed | added
    progress: float = 0.0
    error: dict | None = None
    report: object = None  # syrisign.contrib.CheckReport
    video: bytes = b""
    ext: str = ".mp4"
    entry: dict | None = None
    created: float = field(default_factory=time.time)
    preview: bytes | None = None

    def to_dict(self) -> dict:
        d = {"id": self.id, "word": self.word, "english": self.english, "status": self.status,
             "progress": round(self.progress, 3)}
        if self.report is not None:
            d.update(self.report.to_dict())
        if self.error:
            d["error"] = self.error
        if self.entry:
            d["entry"] = self.entry
        return d


class Contributions:
    """Uploads in progress (in memory, bounded, dropped after :data:`KEEP_SECONDS`) and the write path."""

    def __init__(self, service) -> None:
        self.service = service
        self.items: dict[str, Contribution] = {}
        self._lock = threading.Lock()

    # -- auth ----------------------------------------------------------------------------------------------
    def who(self, authorization: str | None) -> str:
        tokens = self.service.tokens
        if not tokens:
            raise ApiError(403, "writes_off", "adding and removing signs is off on this server: start it with "
                                              "`syrisign serve --tokens FILE` (lines name:token) or SYRISIGN_TOKENS")
        if not authorization or not authorization.lower().startswith("bearer "):
            raise ApiError(401, "token_required", "send the contributor's token as 'Authorization: Bearer <token>'")
        given = authorization[7:].strip().encode()
        for token, name in tokens.items():
            if hmac.compare_digest(given, token.encode()):
                return name
        raise ApiError(403, "wrong_token", "this token is not allowed to add or remove signs")

    # -- uploads ---------------------------------------------------------------------------------------------
    async def read_upload(self, word: str, file: UploadFile) -> bytes:
        from syrisign.text import is_arabic

        word = " ".join((word or "").split())
        if not word:
            raise ApiError(422, "word_required", "type the Arabic word (or phrase) that the sign means")
        if len(word) > 80 or not is_arabic(word):
            raise ApiError(422, "bad_word", "the word must be Arabic text of at most 80 characters")
        limit = self.service.config.max_upload_bytes
        data = await file.read(limit + 1)
        if len(data) > limit:
            raise ApiError(413, "file_too_large", f"the video is over {limit // (1024 * 1024)} MB: record one sign")
        return data

    def start(self, word: str, english: str, data: bytes, who: str) -> Contribution:
        self._expire()
        with self._lock:
            if sum(c.status not in ("ready", "failed", "added") for c in self.items.values()) >= MAX_PENDING:
                raise ApiError(429, "busy", "too many uploads are being checked; retry in a minute", 30)
            c = Contribution(uuid.uuid4().hex, " ".join(word.split()), " ".join((english or "").split()), who,
                             video=data)
            self.items[c.id] = c
        return c

    def run(self, c: Contribution) -> None:
        """In a worker thread: decode, extract, check (stages and progress on ``c``)."""
        from syrisign.contrib import UploadError, prepare_upload

        def say(stage, share):
            c.status, c.progress = stage, share

        cfg = self.service.config
        try:
            c.report, c.ext = prepare_upload(c.video, c.word, self.service.pipeline.lexicon,
                                             self.service.recognizer(), say, cfg.max_upload_seconds,
                                             cfg.max_upload_frames)
            c.status, c.progress = "ready", 1.0
        except UploadError as e:
            c.status, c.error = "failed", {"error": e.code, "message": str(e), "status": e.status}
        except SyriSignError as e:
            c.status, c.error = "failed", {"error": "bad_upload", "message": str(e), "status": 422}
        except Exception as e:  # noqa: BLE001 - reported to the contributor; the server goes on
            log.exception("contribution %s failed", c.id)
            c.status, c.error = "failed", {"error": "internal_error", "message": type(e).__name__, "status": 500}

    def get(self, cid: str) -> Contribution:
        c = self.items.get(cid) if isinstance(cid, str) and len(cid) == 32 else None
        if c is None:
            raise ApiError(404, "not_found", "no such upload (they are kept 30 minutes)")
        return c

    def commit(self, c: Contribution) -> dict:
        """Add a checked upload to the community lexicon (once); 422 with the failed checks otherwise."""
        if c.status == "added":
            return c.entry
        if c.status == "failed":
            raise ApiError(c.error["status"], c.error["error"], c.error["message"])
        if c.status != "ready":
            raise ApiError(409, "not_ready", f"the upload is still {c.status}; wait for the checks")
        if not c.report.ok:
            raise FailedChecks(c.report)
        rec = self.service.community.add(c.word, c.report.signing, english=c.english, added_by=c.added_by,
                                         video=c.video, video_ext=c.ext, _pause=self.service.pause_in_add)
        self.service.refresh_lexicon()
        c.status, c.entry, c.video = "added", _public(rec), b""
        return c.entry

    def _expire(self) -> None:
        now = time.time()
        with self._lock:
            for k in [k for k, c in self.items.items() if now - c.created > KEEP_SECONDS]:
                del self.items[k]


class FailedChecks(ApiError):
    def __init__(self, report) -> None:
        reasons = "; ".join(c.message for c in report.failed)
        super().__init__(422, "failed_checks", f"the recording was not added: {reasons}")
        self.report = report

    def response(self) -> JSONResponse:
        return JSONResponse({"error": self.code, "message": self.message, "status": self.status,
                             **self.report.to_dict()}, status_code=self.status)


def _auth_responses() -> dict:
    return {400: {"model": ErrorBody, "description": "the form could not be read"},
            401: {"model": ErrorBody, "description": "no token"},
            403: {"model": ErrorBody, "description": "wrong token, or writes are off"},
            413: {"model": ErrorBody, "description": "video too large or too long"},
            415: {"model": ErrorBody, "description": "not a video"},
            404: {"model": ErrorBody, "description": "no such upload or sign"},
            409: {"model": ErrorBody, "description": "the upload is still being checked"},
            422: {"model": ErrorBody, "description": "no word, or the checks failed (with the checks)"}}


def add_routes(app: FastAPI, service) -> None:
    contributions = Contributions(service)
    service.contributions = contributions
    auth = _auth_responses()

    def writer(authorization: str | None = Header(None)) -> str:
        """The token's name; a dependency, so that a request without a valid token is refused (401/403) before
        its form is validated: an anonymous caller learns nothing about the upload format."""
        return contributions.who(authorization)

    async def _checked(word, english, file, who) -> Contribution:
        service.require_ready()
        data = await contributions.read_upload(word, file)
        return contributions.start(word, english, data, who)

    @app.post("/v1/contributions", tags=["lexicon"], status_code=202, responses=auth,
              summary="Upload a sign to check (the page's first step)")
    async def contribute(word: str = Form(..., description="the Arabic word or phrase the sign means"),
                         english: str = Form("", description="optional English gloss"),
                         file: UploadFile = File(..., description="the video (mp4, webm, gif, mov, avi)"),
                         who: str = Depends(writer)) -> dict:
        c = await _checked(word, english, file, who)
        service.runner.submit(contributions.run, c)
        return {"id": c.id, "status": c.status}

    @app.get("/v1/contributions/{cid}", tags=["lexicon"],
             responses={**auth, 404: {"model": ErrorBody, "description": "no such upload"}},
             summary="An upload's stage, progress and checks")
    async def contribution(cid: str, who: str = Depends(writer)) -> dict:
        return contributions.get(cid).to_dict()

    @app.get("/v1/contributions/{cid}/preview", tags=["lexicon"], response_class=Response,
             responses={**auth, 404: {"model": ErrorBody, "description": "no such upload"},
                        409: {"model": ErrorBody, "description": "still being checked"}},
             summary="The skeleton video of a checked upload (what would be added)")
    async def preview(cid: str, who: str = Depends(writer)) -> Response:
        c = contributions.get(cid)
        if c.report is None:
            raise ApiError(409, "not_ready", f"the upload is still {c.status}")
        if c.preview is None:
            c.preview = await service.runner.submit(service.render_sequence, c.report.signing, c.word)
        return Response(c.preview, media_type="video/mp4")

    @app.post("/v1/contributions/{cid}/confirm", tags=["lexicon"], status_code=201, responses=auth,
              summary="Add a checked upload to the community lexicon")
    async def confirm(cid: str, who: str = Depends(writer)) -> dict:
        c = contributions.get(cid)
        rec = await asyncio.get_running_loop().run_in_executor(None, contributions.commit, c)
        return {"entry": rec, **c.report.to_dict()}

    @app.post("/v1/lexicon/entries", tags=["lexicon"], status_code=201, responses=auth,
              summary="Add a sign in one request: upload, checks, add")
    async def add_entry(word: str = Form(...), english: str = Form(""), file: UploadFile = File(...),
                        who: str = Depends(writer)) -> dict:
        c = await _checked(word, english, file, who)
        await service.runner.submit(contributions.run, c)
        rec = await asyncio.get_running_loop().run_in_executor(None, contributions.commit, c)
        return {"entry": rec, **c.report.to_dict()}

    @app.get("/v1/lexicon/entries", tags=["lexicon"], summary="Community signs (source=community)")
    async def entries(source: str = Query("community", pattern="^community$")) -> dict:
        recs = service.community.records()
        return {"source": source, "total": len(recs), "entries": [_public(r) for r in recs]}

    @app.delete("/v1/lexicon/entries/{sign_id}", tags=["lexicon"], responses=auth,
                summary="Remove a community sign (undone by the admin: syrisign lexicon remove --restore)")
    async def delete_entry(sign_id: str, who: str = Depends(writer)) -> dict:
        from syrisign.community import CommunityError
        try:
            rec = await asyncio.get_running_loop().run_in_executor(None, service.community.remove, sign_id, who)
        except CommunityError as e:
            raise ApiError(404, "not_found", str(e)) from None
        service.refresh_lexicon()
        return {"entry": _public(rec)}


def _public(rec: dict) -> dict:
    return {k: v for k, v in rec.items() if k != "video"}


__all__ = ["add_routes", "Contributions", "Contribution"]
