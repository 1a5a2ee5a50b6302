"""Simple baselines measured on the same splits as the retrieval model.

Each sample is reduced to the model's layout, shoulder-normalized (as the model sees it), resampled
to a fixed number of frames by linear interpolation over its length, flattened (missing landmarks
are 0), then classified by

- ``logreg``: multinomial logistic regression (scikit-learn, C=1) on the features as they are (they are
  already in shoulder widths; standardizing them per feature made KArSL much worse, 0.31-0.33,
  because it amplifies face-landmark jitter);
- ``1nn``: the nearest training sample (Euclidean distance on the same features).

Pose→text R@1 of a classifier is its accuracy; R@5 comes from the logistic regression's ranking.
Run: ``python -m retrieval.baselines --protocol isl`` (see ``--help``).
"""
from __future__ import annotations

import argparse
import json

import numpy as np

from retrieval.data import Item, Splits


def fixed_length(x: np.ndarray, m: np.ndarray, frames: int) -> np.ndarray:
    """``(frames, J, 3)``: linear interpolation along the sample's frames (missing stays 0)."""
    t = np.linspace(0, len(x) - 1, frames)
    i0 = np.floor(t).astype(int).clip(0, max(0, len(x) - 2))
    i1 = np.minimum(i0 + 1, len(x) - 1)
    w = (t - i0)[:, None, None]
    xi = (1 - w) * x[i0] + w * x[i1]
    mi = m[i0] & m[i1]
    return np.where(mi[..., None], xi, 0.0).astype(np.float32)


def features(items: list[Item], frames: int = 24) -> np.ndarray:
    return np.stack([fixed_length(it.x, it.mask, frames).reshape(-1) for it in items])


def run_baselines(splits: Splits, frames: int = 24, which: tuple[str, ...] = ("logreg", "1nn"),
                  test: list[Item] | None = None, candidates: list[str] | None = None) -> dict[str, dict]:
    """Accuracy (= V2T R@1) and R@5 of each baseline, trained on ``splits.train`` (+ val), tested on
    ``test`` (default ``splits.test``); predictions are restricted to ``candidates`` (default: the
    test classes) so that the baselines and the model choose among the same texts."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier

    train = splits.train + splits.val
    test = splits.test if test is None else test
    if not test:
        return {}
    cand = sorted(candidates or {it.cls for it in test})
    train = [it for it in train if it.cls in set(cand)]
    xtr, xte = features(train, frames), features(test, frames)
    ytr = np.array([it.cls for it in train])
    yte = np.array([it.cls for it in test])
    out: dict[str, dict] = {}
    if "logreg" in which:
        clf = LogisticRegression(max_iter=3000, C=1.0)
        clf.fit(xtr, ytr)
        proba = clf.predict_proba(xte)
        classes = list(clf.classes_)
        order = np.argsort(-proba, axis=1)
        ranks = np.array([[classes[j] for j in row].index(y) + 1 if y in classes else len(cand)
                          for row, y in zip(order, yte)])
        out["logreg"] = {"R@1": float((ranks <= 1).mean()), "R@5": float((ranks <= 5).mean()), "n": len(yte)}
    if "1nn" in which:
        knn = KNeighborsClassifier(n_neighbors=1).fit(xtr, ytr)
        out["1nn"] = {"R@1": float((knn.predict(xte) == yte).mean()), "n": len(yte)}
    return out


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="", help="dataset(s), comma-separated (default from the protocol)")
    p.add_argument("--protocol", default="isl",
                   help="isl (signer-independent, apurve+rajat held out), karsl-01to03, karsl-03to01, split, "
                        "signer")
    p.add_argument("--test-signers", default="")
    p.add_argument("--frames", type=int, default=24, help="frames each sample is resampled to (16-32)")
    p.add_argument("--layout", default="", help="default: the dataset's reduced layout")
    p.add_argument("--json", action="store_true")


def protocol_args(protocol: str, dataset: str) -> tuple[str, str]:
    """``(datasets, protocol for make_splits)`` of a named evaluation protocol."""
    if protocol == "isl":
        return dataset or "isl", "signer"
    if protocol.startswith("karsl-0"):
        return dataset or "karsl-words", protocol
    return dataset, protocol


def main(args: argparse.Namespace) -> int:
    from retrieval.data import make_splits, open_dataset
    from syrisign.ml.features import FeatureConfig, default_layout

    datasets, protocol = protocol_args(args.protocol, args.dataset)
    names = datasets.split(",")
    layout = args.layout or default_layout(sorted({s.skeleton for n in names for s in open_dataset(n).samples}))
    feat = FeatureConfig(layout=layout, fps=25.0, max_frames=200)
    splits = make_splits(names, protocol, feat,
                         test_signers=[s for s in args.test_signers.split(",") if s] or None, val_fraction=0.0)
    res = run_baselines(splits, frames=args.frames)
    if args.json:
        print(json.dumps({"protocol": args.protocol, "splits": splits.describe(), "baselines": res}, indent=2))
    else:
        print(splits.describe())
        for k, v in res.items():
            print(f"{k:8s} " + "  ".join(f"{m} {x:.3f}" for m, x in v.items() if m != "n") + f"  (n={v['n']})")
    return 0


if __name__ == "__main__":
    import sys
    ap = argparse.ArgumentParser(prog="python -m retrieval.baselines", description=__doc__.split("\n")[0])
    add_arguments(ap)
    sys.exit(main(ap.parse_args()))
