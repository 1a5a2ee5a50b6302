"""``syrisign evaluate [all|retrieval]``: compare the methods on real held-out recordings.

``syrisign evaluate`` (or ``evaluate all``) runs the full comparison (retrieval, T2M-GPT and
MotionCLIP against a back-translation recognizer, baselines, plots, video grid) and writes the
report; ``syrisign evaluate retrieval ...`` is the retrieval model's own evaluation
(``retrieval.evaluate``).
"""
from __future__ import annotations

import argparse

METHODS = ("retrieval", "generative", "motionclip")


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _add_run_arguments(p: argparse.ArgumentParser, suppress: bool) -> None:
    """The full comparison's options; on the ``all`` subcommand their defaults are suppressed so
    they never overwrite the same options given before the subcommand."""
    def d(value):
        return argparse.SUPPRESS if suppress else value

    p.add_argument("--methods", type=_csv, default=d(list(METHODS)), metavar="A,B",
                   help=f"methods to compare (default {','.join(METHODS)})")
    p.add_argument("--dataset", "--datasets", dest="datasets", type=_csv, default=d(["karsl-words", "isl"]),
                   metavar="A,B", help="datasets (default karsl-words,isl)")
    p.add_argument("--split", choices=["signer", "random"], default=d("signer"),
                   help="signer (default): held-out signers (KArSL words: train 01, test 03; ISL: test apurve, "
                        "rajat); random: 20%% of each word, seeded")
    p.add_argument("--test-signers", type=_csv, default=d(None), metavar="A,B", help="override the held-out signers")
    p.add_argument("--out", default=d("results/evaluation"), help="report folder (default results/evaluation)")
    p.add_argument("--samples", type=int, default=d(5), help="outputs per word for T2M-GPT (seeds) and retrieval (top-k)")
    p.add_argument("--candidates", type=int, default=d(None),
                   help="T2M-GPT: each output is the best of this many samples by the text-pose similarity of the "
                        "dataset's evaluation retrieval model (default: the generator's, 8; 1: no reranking)")
    # t2m_gpt.rerank.SELECT, written out: importing it here would load numpy on every command's start-up
    p.add_argument("--select", choices=("text", "consensus", "barycentre", "guarded"), default=d(None),
                   help="T2M-GPT: how the candidates become one output: text (the closest to the text), consensus "
                        "or barycentre (their DTW average), guarded (the barycentre unless the retrieval model reads "
                        "the text pick as the word and not the barycentre); default: the generator's")
    p.add_argument("--sentences", type=int, default=d(20), help="multi-sign sequences for WER, join jerk, duration ratio")
    p.add_argument("--bootstrap", type=int, default=d(1000), help="bootstrap resamples for the 95%% intervals")
    p.add_argument("--seed", type=int, default=d(0))
    p.add_argument("--no-train", dest="train_missing", action="store_false", default=d(True),
                   help="do not train missing checkpoints (report those methods as unavailable)")
    p.add_argument("--train-minutes", type=float, default=d(4.0),
                   help="time budget of each missing training (default 4; 0 = the trainers' own defaults)")
    p.add_argument("--retrain-recognizer", action="store_true", default=d(False))
    p.add_argument("--no-video", dest="video", action="store_false", default=d(True))
    p.add_argument("--threads", type=int, default=d(1), help="torch CPU threads (default 1: fastest on a busy 2-core machine)")
    p.add_argument("--quiet", action="store_true", default=d(False))


def register(sub: argparse._SubParsersAction) -> None:
    from syrisign.cli import parsing_argv
    p = sub.add_parser("evaluate", help="compare retrieval, T2M-GPT and MotionCLIP on held-out recordings",
                       description=__doc__.split("\n\n")[0])
    _add_run_arguments(p, suppress=False)
    p.set_defaults(func=_run)
    esub = p.add_subparsers(dest="evaluate_command", metavar="WHAT")
    a = esub.add_parser("all", help="the full comparison (the default)")
    _add_run_arguments(a, suppress=True)
    a.set_defaults(func=_run)
    r = esub.add_parser("retrieval", help="the retrieval model's own metrics (retrieval.evaluate)")
    r.set_defaults(func=_retrieval)
    argv = parsing_argv()
    if argv[:2] == ["evaluate", "retrieval"]:  # import the retrieval family only when it is asked for
        try:
            from retrieval.evaluate import add_arguments
            add_arguments(r)
        except ImportError:
            r.add_argument("rest", nargs=argparse.REMAINDER)


def _retrieval(args) -> int:
    from syrisign.errors import SyriSignError
    try:
        from retrieval.evaluate import main
    except ImportError as e:
        raise SyriSignError(f"the retrieval evaluation is not available in this installation ({e}); "
                            "it lives in retrieval/evaluate.py") from None
    return main(args)


def _run(args) -> int:
    import os
    import sys
    import time

    # spinning OpenMP threads slow every torch process on a shared CPU many times (set before torch loads)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from syrisign.evaluation.run import EvaluateConfig, run
    cfg = EvaluateConfig(datasets=args.datasets, methods=args.methods, split=args.split, test_signers=args.test_signers,
                         samples=args.samples, candidates=args.candidates, select=args.select, sentences=args.sentences,
                         bootstrap=args.bootstrap, seed=args.seed,
                         train_missing=args.train_missing, train_minutes=args.train_minutes or None,
                         retrain_recognizer=args.retrain_recognizer, out=args.out, video=args.video,
                         progress=not args.quiet, threads=args.threads)
    unknown = [m for m in cfg.methods if m not in METHODS]
    if unknown:
        from syrisign.errors import SyriSignError
        raise SyriSignError(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}")
    t0 = time.perf_counter()
    report = run(cfg, command="syrisign " + " ".join(sys.argv[1:]) if sys.argv[1:] else "syrisign evaluate")
    from syrisign.evaluation.report import COLUMNS, _cell, _digits, _fmt
    for name, d in report["datasets"].items():
        print(f"\n{name} (test signers {', '.join(d['split']['test_signers']) or '-'}):")
        for sysname, res in d["systems"].items():
            if "error" in res:
                print(f"  {sysname:14s} unavailable: {res['error']}")
                continue
            print(f"  {sysname:14s} " + "  ".join(f"{h.split(' ')[0] if h.startswith('Dur') else h.rstrip(' ↑↓')} "
                                                  f"{_fmt(_cell(res, k), _digits(k)).split(' [')[0]}"
                                                  for k, h, _ in COLUMNS))
    print(f"\nreport: {cfg.out}/README.md, {cfg.out}/evaluation.json ({(time.perf_counter() - t0) / 60:.1f} min)")
    return 0
