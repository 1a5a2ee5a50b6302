"""``syrisign translate``: Arabic text to a signed skeleton video."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from render.video import X264_PRESETS
from syrisign.errors import SyriSignError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "translate", help="Arabic text to a sign language skeleton video",
        description="Sign Arabic text as a skeleton animation. TEXT can be given as an argument, with --file, "
                    "or on standard input ('-' or nothing). The first run builds the default lexicon from "
                    "SYRISIGN_DATA (a few minutes, progress shown).")
    p.add_argument("text", nargs="?", help="Arabic text; '-' or omitted: read standard input")
    p.add_argument("-f", "--file", help="read the text from this file (UTF-8)")
    p.add_argument("-o", "--output", help="output file (default translation.<format>)")
    p.add_argument("-m", "--method", default="retrieval",
                   help="retrieval, generative, motionclip, all, or a comma-separated list (default retrieval)")
    p.add_argument("--format", choices=["mp4", "gif", "png", "pose", "npz", "json"],
                   help="output format (default: from the output's suffix, else mp4)")
    p.add_argument("--explain", action="store_true", help="print how each word was resolved (the gloss plan)")
    p.add_argument("--plan-only", action="store_true", help="print the plan and stop (no video)")
    p.add_argument("--fps", type=float, default=25.0, help="output frame rate (default 25)")
    p.add_argument("--size", type=int, default=512,
                   help="video width in pixels, 128 to 1080 (default 512; square, or 9:16 with --layout portrait)")
    p.add_argument("--layout", choices=["square", "portrait"], default="square",
                   help="square (default), or portrait 9:16 for phones: the hand close-ups get a row of their own")
    p.add_argument("--no-insets", action="store_true", help="no hand close-ups")
    p.add_argument("--preset", choices=X264_PRESETS, default="ultrafast",
                   help="x264 preset of an mp4: ultrafast (default: the fastest to write, files about twice "
                        "the size), superfast (what the HTTP service sends), ... medium (smallest, slowest)")
    p.add_argument("--signer", default="reference",
                   help="the body every recording is retargeted onto: reference (the lexicon's reference signer, "
                        "the default), mean (the mean body of its signers), a signer's name, or none")
    p.add_argument("--left-handed", action="store_true", help="sign with the left hand dominant (default right)")
    p.add_argument("--fingerspell-rate", type=float, default=2.5,
                   help="letters per second of a fingerspelled word (default 2.5)")
    p.add_argument("--as-recorded", action="store_true",
                   help="play every recording as it was signed (several bodies and hands, each letter a whole "
                        "citation form): for comparison")
    p.add_argument("--lexicon", help="lexicon folder or index.csv (default: the built-in Arabic lexicon)")
    p.add_argument("--translator", help="glossary (default), marian:DIR or arat5:DIR (or $SYRISIGN_TRANSLATOR)")
    p.add_argument("--no-fuzzy", action="store_true", help="do not use the retrieval model for inexact matches")
    p.add_argument("--max-chars", type=int, default=5000, help="longest text accepted (default 5000)")
    p.add_argument("--json", action="store_true", help="print the plan and outputs as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress messages")
    p.set_defaults(func=run)


def read_text(args) -> str:
    if args.file:
        path = Path(args.file)
        if not path.is_file():
            raise SyriSignError(f"no such text file: {path}")
        try:
            return path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise SyriSignError(f"{path} is not UTF-8 text") from None
    if args.text is not None and args.text != "-":
        return args.text
    if sys.stdin is None or sys.stdin.isatty():
        raise SyriSignError('no text given: syrisign translate "وزارة الصحة" (or --file, or standard input)')
    return sys.stdin.read()


def parse_methods(spec: str) -> list[str]:
    from syrisign.producers import available_producers
    if spec == "all":
        return available_producers()
    methods = [m.strip() for m in spec.split(",") if m.strip()]
    unknown = [m for m in methods if m not in available_producers()]
    if unknown or not methods:
        raise SyriSignError(f"unknown method {', '.join(unknown) or spec!r}; "
                            f"choose from {', '.join(available_producers())} or all")
    return methods


def run(args) -> int:
    from syrisign.pipeline import Pipeline

    t0 = time.perf_counter()
    text = read_text(args)
    methods = parse_methods(args.method)
    fmt = args.format or (Path(args.output).suffix.lstrip(".") if args.output else "mp4") or "mp4"
    if fmt in ("mp4", "gif", "png"):
        from syrisign.pipeline import check_video_size
        check_video_size(args.size, args.layout)  # before any work
    pipe = Pipeline(lexicon=args.lexicon, translator=args.translator, fuzzy=not args.no_fuzzy, fps=args.fps,
                    progress=not args.quiet, max_chars=args.max_chars, signer=args.signer,
                    hand="left" if args.left_handed else "right", fingerspell_rate=args.fingerspell_rate,
                    as_recorded=args.as_recorded)
    if args.plan_only:
        plan = pipe.plan(text)
        print(json.dumps(plan.to_dict(), ensure_ascii=False, indent=2) if args.json else plan.explain())
        return 0
    result = pipe.translate(text, methods, keep_going=len(methods) > 1)
    out = Path(args.output or f"translation.{fmt}")
    written = pipe.write(result, out, fmt, size=args.size, layout=args.layout, insets=not args.no_insets,
                         preset=args.preset)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    elif args.explain:
        print(result.plan.explain())
    for m, err in result.errors.items():
        print(f"syrisign: {m}: {err}", file=sys.stderr)
    if not args.json:
        frames = ", ".join(f"{m} {len(o.sequence)} frames" for m, o in result.outputs.items())
        for p in written:
            print(f"wrote {p} ({frames}, {args.fps:g} fps) in {time.perf_counter() - t0:.2f} s")
    return 0
