"""The ``syrisign`` command. Each command group lives in ``syrisign/commands/<name>.py``
and registers itself; modules are imported lazily so ``syrisign --help`` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from syrisign.errors import SyriSignError

# command modules, in the order `syrisign --help` lists them
COMMAND_MODULES = [
    "syrisign.commands.data",
    "syrisign.commands.lexicon",
    "syrisign.commands.translate",
    "syrisign.commands.retrieval",
    "syrisign.commands.train",
    "syrisign.commands.evaluate",
    "syrisign.commands.serve",
]
# the command names each module registers: `syrisign translate ...` imports only the translate module
# (the others' parsers import datasets, sources and trainers: about a second of a new process)
COMMAND_NAMES = {
    "data": "syrisign.commands.data", "lexicon": "syrisign.commands.lexicon",
    "translate": "syrisign.commands.translate", "search": "syrisign.commands.retrieval",
    "recognize": "syrisign.commands.retrieval", "train": "syrisign.commands.train",
    "evaluate": "syrisign.commands.evaluate", "serve": "syrisign.commands.serve",
}


_ARGV: list[str] = []


def parsing_argv() -> list[str]:
    """The arguments being parsed (commands may skip expensive parser setup they do not need)."""
    return _ARGV


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    global _ARGV
    _ARGV = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="syrisign", description="Arabic text to sign language skeleton video (retrieval and generation).")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    first = _ARGV[0] if _ARGV else ""
    modules = [COMMAND_NAMES[first]] if first in COMMAND_NAMES else COMMAND_MODULES
    for name in modules:
        importlib.import_module(name).register(sub)
    return parser


def _version() -> str:
    from syrisign import __version__
    return __version__


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    # idle OpenMP threads sleep instead of spinning: on a shared 2-core CPU spinning made torch steps
    # 10-30x slower (results/generative.md); must be set before torch is first imported
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except SyriSignError as e:
        print(f"syrisign: error: {e}", file=sys.stderr)
        return 2
    except FileNotFoundError as e:
        print(f"syrisign: error: file not found: {e.filename or e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("syrisign: interrupted; finished work is kept and a rerun resumes", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    # `python -m syrisign.cli` runs this file as __main__: the commands must see the same module (parsing_argv)
    sys.exit(importlib.import_module("syrisign.cli").main())
