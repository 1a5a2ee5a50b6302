"""``syrisign data build|info|split``."""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    from syrisign.data import PRESETS
    from syrisign.data.sources import SOURCES

    p = sub.add_parser("data", help="build, describe and split datasets")
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    b = dsub.add_parser("build", help="turn recordings (videos, frames, landmark dumps, .pose lexicons) into a dataset",
                        description="INPUT is a folder, an index.csv, a RawDataset.tar.gz, 'spoken-to-signed' "
                                    f"(the installed Jordanian fingerspelling lexicon) or a preset: {', '.join(PRESETS)}. "
                                    "OUTPUT defaults to $SYRISIGN_HOME/datasets/<preset or input name>.")
    b.add_argument("input")
    b.add_argument("output", nargs="?")
    b.add_argument("--source", choices=sorted(SOURCES), help="layout of INPUT (detected when omitted)")
    b.add_argument("--workers", type=int, default=None,
                   help="MediaPipe worker processes, or the CPUs of the local Ray (default: 2 or CPU count)")
    b.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="local: worker processes on this machine; ray: Ray tasks on the cluster named by RAY_ADDRESS, "
                        "or on a local Ray with --workers CPUs (needs pip install 'syrisign[cluster]')")
    b.add_argument("--limit", type=int, default=None, help="only the first N samples (for a quick look)")
    b.add_argument("--split", choices=["random", "signer", "class"], help="assign a split after building")
    b.set_defaults(func=_build)

    i = dsub.add_parser("info", help="counts per class, signer and source; frames; missing-hand rates")
    i.add_argument("dataset", help="dataset folder or name under $SYRISIGN_HOME/datasets")
    i.add_argument("--json", action="store_true", help="machine-readable output")
    i.set_defaults(func=_info)

    s = dsub.add_parser("split", help="write train/val/test into the manifest (fixed seed)")
    s.add_argument("dataset")
    s.add_argument("--mode", choices=["random", "signer", "class"], default="random")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--test-frac", type=float, default=0.2, help="random: share of each class; signer: share of signers")
    s.add_argument("--val-frac", type=float, default=0.1)
    s.add_argument("--test-signers", nargs="+", help="signer mode: these signers are the test set")
    s.add_argument("--heldout-frac", type=float, default=0.2, help="class mode: share of classes held out")
    s.set_defaults(func=_split)


def _build(args) -> int:
    from syrisign.data import PRESETS, preset_input
    from syrisign.data.build import build_dataset
    from syrisign.data.dataset import Dataset
    from syrisign.data.split import assign_split, dataset_info
    from syrisign.settings import get_settings

    source = args.source
    if args.input in PRESETS:
        inp, preset_source = preset_input(args.input)
        source = source or preset_source
        name = args.input
    else:
        inp = args.input
        name = args.input if args.input == "spoken-to-signed" else Path(args.input).resolve().name
    out = Path(args.output) if args.output else get_settings().dataset(name)
    report = build_dataset(inp, out, source=source, workers=args.workers, limit=args.limit, engine=args.engine)
    print(report.summary())
    ds = Dataset(out)
    if args.split:
        assign_split(ds, args.split)
        ds.save()
    info = dataset_info(ds)
    rate = info.get("missing_hand_rate")
    print(f"dataset {out}: {info['samples']} samples, {info['classes']} classes, "
          f"{len(info['per_signer'])} signers, {info['frames']['total']} frames"
          + (f", missing-hand rate {rate:.1%}" if rate is not None else ""))
    if report.failed:
        print(f"{len(report.failed)} sample(s) skipped, see {out / 'errors.log'}")
    return 0


def _info(args) -> int:
    from syrisign.data.dataset import Dataset
    from syrisign.data.split import dataset_info

    ds = Dataset.open(args.dataset)
    info = dataset_info(ds)
    if args.json:
        print(json.dumps(info, ensure_ascii=False, indent=2))
        return 0
    print(f"{ds.root}")
    print(f"  samples {info['samples']}, classes {info['classes']}, skeletons {', '.join(info['skeletons'])}")
    fr = info["frames"]
    print(f"  frames: total {fr['total']}, per sample min {fr['min']} / median {fr['median']:g} / max {fr['max']}")
    if "missing_hand_rate" in info:
        print(f"  missing-hand rate (frames with neither hand): {info['missing_hand_rate']:.1%}; "
              f"samples with no hand at all: {info['samples_without_any_hand']}")
    for key in ("per_source", "per_signer", "per_split"):
        print(f"  {key.replace('per_', 'per ')}: " + ", ".join(f"{k} {v}" for k, v in info[key].items()))
    if "split" in info:
        print(f"  split: {json.dumps(info['split'], ensure_ascii=False)}")
    print("  per class:")
    for k, v in info["per_class"].items():
        print(f"    {v:5d}  {k}")
    return 0


def _split(args) -> int:
    from syrisign.data.dataset import Dataset
    from syrisign.data.split import assign_split

    ds = Dataset.open(args.dataset)
    desc = assign_split(ds, args.mode, args.seed, args.test_frac, args.val_frac, args.test_signers, args.heldout_frac)
    ds.save()
    print(f"{ds.root}: {args.mode} split, seed {args.seed}: "
          + ", ".join(f"{k} {v}" for k, v in sorted(desc["counts"].items())))
    return 0
