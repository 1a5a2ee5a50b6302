"""``syrisign serve``: the HTTP API and the web page (uvicorn + :mod:`syrisign.api`)."""
from __future__ import annotations

import argparse
import os

from syrisign.errors import SyriSignError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve", help="serve the HTTP API and the web page",
        description="Start the SyriSign HTTP service: the page at /, POST /v1/translate, the sign.mt-compatible "
                    "GET /v1/translate?text=&spoken=ar&signed=, /v1/lexicon, /healthz, /readyz, OpenAPI at "
                    "/docs. The lexicon and models load once at start-up (GET /readyz says when ready).")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--workers", type=int, default=1,
                   help="server processes (default 1; each loads its own lexicon and models)")
    p.add_argument("--lexicon", help="lexicon folder or index.csv (default: the built-in Arabic lexicon)")
    p.add_argument("--translator", help="glossary (default), marian:DIR or arat5:DIR")
    p.add_argument("--no-fuzzy", action="store_true", help="do not use the retrieval model for inexact matches")
    p.add_argument("--methods", default="retrieval,generative,motionclip",
                   help="methods to load (comma-separated; those without a trained model are reported)")
    p.add_argument("--max-chars", type=int, default=500, help="longest text accepted (default 500)")
    p.add_argument("--jobs", type=int, default=2, help="translations rendered at once per process (default 2)")
    p.add_argument("--queue", type=int, default=64, help="jobs allowed to wait before 429 (default 64)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds a request may wait (default 60)")
    p.add_argument("--size", type=int, default=512, help="default video width in pixels (default 512; requests may ask 128-1080)")
    p.add_argument("--max-seconds", type=float, default=180.0,
                   help="longest signing rendered, in seconds of video (default 180)")
    p.add_argument("--cache-mb", type=float, default=256.0, help="response cache size per process (default 256)")
    p.add_argument("--cors", default="*", help="origins allowed to call the API from a browser, comma-separated "
                                               "('' for none; default *)")
    p.add_argument("--tokens", metavar="FILE",
                   help="contributors who may add and remove community signs: lines name:token (default "
                        "$SYRISIGN_TOKENS; with neither, writes are off and answer 403)")
    p.add_argument("--community", metavar="DIR",
                   help="the community lexicon's folder (default $SYRISIGN_HOME/lexicons/community)")
    p.add_argument("--max-upload-mb", type=float, default=25.0, help="largest contributed video (default 25 MB)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.set_defaults(func=run)


def run(args) -> int:
    try:
        import uvicorn
    except ImportError:
        raise SyriSignError("the server needs uvicorn and fastapi: pip install 'syrisign[serve]'") from None
    from syrisign.api import CONFIG_ENV, METHODS, ServiceConfig

    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise SyriSignError(f"unknown method {', '.join(unknown) or args.methods!r}; choose from {', '.join(METHODS)}")
    for name in ("port", "workers", "max_chars", "jobs", "size"):
        if getattr(args, name) < 1:
            raise SyriSignError(f"--{name.replace('_', '-')} must be at least 1")
    from syrisign.pipeline import check_video_size
    check_video_size(args.size)
    config = ServiceConfig(
        lexicon=args.lexicon, translator=args.translator, fuzzy=not args.no_fuzzy, methods=methods,
        max_chars=args.max_chars, jobs=args.jobs, max_waiting=max(0, args.queue), timeout=args.timeout,
        size=args.size, max_seconds=args.max_seconds, cache_mb=args.cache_mb, cors_origins=tuple(o for o in args.cors.split(",") if o),
        progress=True, max_upload_bytes=int(args.max_upload_mb * 1024 * 1024))
    from pathlib import Path
    if args.tokens:
        from syrisign.api.config import load_tokens
        config.tokens_file = str(Path(args.tokens).expanduser().resolve())
        n = len(load_tokens(config))  # a malformed file fails here, with its line
        print(f"syrisign: {n} contributor token(s) from {args.tokens}: community signs can be added", flush=True)
    if args.community:
        config.community = str(Path(args.community).expanduser().resolve())
    if args.lexicon:  # worker processes may start elsewhere: give them an absolute path
        p = Path(args.lexicon).expanduser()
        if p.exists():
            config.lexicon = str(p.resolve())
    os.environ[CONFIG_ENV] = config.to_env()  # worker processes read it in create_app_from_env
    print(f"syrisign: serving on http://{args.host}:{args.port}/ (API docs at /docs); loading the lexicon "
          "and models (GET /readyz says when ready)", flush=True)
    uvicorn.run("syrisign.api:create_app_from_env", factory=True, host=args.host, port=args.port,
                workers=args.workers, log_level=args.log_level)
    return 0
