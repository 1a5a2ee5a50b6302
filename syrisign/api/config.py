"""The service's settings and constants."""
from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path

from syrisign.errors import SyriSignError

METHODS = ("retrieval", "generative", "motionclip")
MEDIA_TYPES = {"mp4": "video/mp4", "gif": "image/gif", "pose": "application/pose",
               "json": "application/json"}
SPOKEN_LANGUAGES = ("ar",)
WEB_DIR = Path(__file__).resolve().parent.parent / "web"
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
    tokens_file: str = ""  # lines "name:token" that may add and remove community signs (else $SYRISIGN_TOKENS)
    community: str = ""  # the community lexicon's folder (default $SYRISIGN_HOME/lexicons/community)
    max_upload_bytes: int = 25 * 1024 * 1024  # a contributed video (413 past it)
    max_upload_seconds: float = 20.0  # ... its length (413 past it)
    max_upload_frames: int = 600  # ... its frames at 25 fps

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




TOKENS_ENV = "SYRISIGN_TOKENS"


def parse_tokens(text: str, where: str) -> dict[str, str]:
    """``name:token`` lines (or comma-separated) to {token: name}; blank lines and # comments left out."""
    out: dict[str, str] = {}
    for n, raw in enumerate(text.replace(",", "\n").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, token = line.partition(":")
        name, token = name.strip(), token.strip()
        if not sep or not name or len(token) < 8:
            raise SyriSignError(f"{where} line {n}: expected name:token with a token of at least 8 characters")
        out[token] = name
    return out


def load_tokens(config: ServiceConfig) -> dict[str, str]:
    """The write tokens: ``config.tokens_file``, else ``$SYRISIGN_TOKENS`` (a file, or the lines themselves)."""
    if config.tokens_file:
        p = Path(config.tokens_file).expanduser()
        if not p.is_file():
            raise SyriSignError(f"tokens file {p} not found")
        return parse_tokens(p.read_text(encoding="utf-8"), str(p))
    env = os.environ.get(TOKENS_ENV, "").strip()
    if not env:
        return {}
    p = Path(env).expanduser()
    if "\n" not in env and ":" not in env.split("/")[-1] and p.is_file():
        return parse_tokens(p.read_text(encoding="utf-8"), str(p))
    return parse_tokens(env, f"${TOKENS_ENV}")
