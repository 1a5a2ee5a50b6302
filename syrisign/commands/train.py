"""``syrisign train KIND``: one entry point for every trainable model.

Each model family's ``train`` module defines ``add_arguments(parser)`` and ``main(args) -> int``.
Run under ``accelerate launch -m syrisign train ...`` (or torchrun) for data parallelism on several GPUs
or CPU processes: ``--batch-size`` is per process (see docs/cluster.md).
"""
from __future__ import annotations

import argparse
import importlib

TRAINERS = {
    "retrieval": ("retrieval.train", "SignCLIP / CLIP-ArASL contrastive text-pose model"),
    "vqvae": ("vqvae.train", "motion VQ-VAE (T2M-GPT stage 1)"),
    "t2m": ("t2m_gpt.train", "text-conditioned GPT over motion tokens (T2M-GPT stage 2)"),
    "motionclip": ("motionclip.train", "MotionCLIP motion autoencoder aligned with text"),
    "recognizer": ("syrisign.evaluation.recognizer", "back-translation recognizer used as the judge"),
}


def register(sub: argparse._SubParsersAction) -> None:
    from syrisign.cli import parsing_argv
    # The trainers' own options are added only when a training command is being parsed, so that
    # other commands never import the model families (and torch) just to build the parser.
    wanted = "train" in parsing_argv()[:2]
    p = sub.add_parser("train", help="train a model (retrieval, vqvae, t2m, motionclip, recognizer)")
    tsub = p.add_subparsers(dest="train_kind", metavar="KIND", required=True)
    for kind, (module, help_text) in TRAINERS.items():
        tp = tsub.add_parser(kind, help=help_text)
        tp.set_defaults(func=_runner(module), _train_module=module)
        if not wanted:
            continue
        try:
            importlib.import_module(module).add_arguments(tp)
        except (ImportError, AttributeError):
            tp.description = f"{help_text} (not available in this installation)"


def _runner(module: str):
    def run(args) -> int:
        from syrisign.errors import SyriSignError
        from syrisign.ml.distributed import init_distributed
        init_distributed()  # under accelerate launch / torchrun: the process group before any model is built
        try:
            mod = importlib.import_module(module)
        except ImportError as e:
            raise SyriSignError(f"this trainer is not available: {e}") from None
        return mod.main(args)
    return run
