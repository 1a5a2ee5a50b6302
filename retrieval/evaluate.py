"""Evaluation of the retrieval model (``syrisign evaluate retrieval``; for now
``python -m retrieval.evaluate``).

Metrics (docs METRICS.md, SignCLIP protocol), cosine similarity in the shared space:

- text→pose P@k: for each class text, the share of the top k poses that are of its class;
- pose→text R@k: 1 if the pose's class text is among the top k candidate texts, averaged;
- MedianR: median 1-based rank of the first correct item (both directions).

Candidates are the texts of the test classes. ``--zero-shot N`` runs the CLIP-ArASL protocol: 20 % of the
classes are held out entirely (no poses, no texts in training or validation), a model is trained on the
rest, and each held-out pose is classified among the held-out classes' texts only; repeated over N random
class splits, reported as mean ± std beside chance (1 / number of held-out classes).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch


# -- metrics -----------------------------------------------------------------------------------------
def ranks_of_truth(sim: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """For each row of ``sim (N, C)``, the 1-based rank of the first column where ``truth (N, C)`` holds
    (ties count against the truth: rank = 1 + number of false columns scoring at least as high)."""
    best_true = np.where(truth, sim, -np.inf).max(axis=1, keepdims=True)  # (N, 1)
    return 1 + (np.where(truth, -np.inf, sim) >= best_true).sum(axis=1)


def retrieval_metrics(sim: np.ndarray, pose_cls: list[str], text_cls: list[str], ks=(1, 5, 10)) -> dict:
    """All retrieval metrics from ``sim (N poses, C texts)``; ``pose_cls``/``text_cls`` name the classes."""
    pose_cls, text_cls = np.asarray(pose_cls), np.asarray(text_cls)
    truth = pose_cls[:, None] == text_cls[None, :]  # (N, C)
    has = truth.any(1)
    out: dict[str, float] = {}
    r = ranks_of_truth(sim[has], truth[has])
    for k in ks:
        out[f"V2T_R@{k}"] = float((r <= k).mean()) if len(r) else float("nan")
    out["V2T_MedianR"] = float(np.median(r)) if len(r) else float("nan")
    # text→pose: each text that has at least one pose
    tq = truth.any(0)
    st, tt = sim.T[tq], truth.T[tq]  # (C', N)
    order = np.argsort(-st, axis=1, kind="stable")
    hits = np.take_along_axis(tt, order, axis=1)
    for k in (1, 5):
        out[f"T2V_P@{k}"] = float(hits[:, :k].sum(1).mean() / k) if len(st) else float("nan")
    out["T2V_MedianR"] = float(np.median(ranks_of_truth(st, tt))) if len(st) else float("nan")
    out["n_poses"], out["n_texts"] = int(has.sum()), int(len(text_cls))
    return out


# -- embedding -----------------------------------------------------------------------------------------
@torch.no_grad()
def embed_items(model, items, batch_size: int = 64) -> np.ndarray:
    """``(N, E)`` pose embeddings of prepared items."""
    from syrisign.ml.features import collate
    dev = next(model.parameters()).device
    out = []
    model.eval()
    for i in range(0, len(items), batch_size):
        chunk = items[i:i + batch_size]
        x, jm, fm = collate([(it.x, it.mask) for it in chunk])
        out.append(model.encode_pose(x.to(dev), jm.to(dev), fm.to(dev)).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, model.cfg.embed_dim), np.float32)


@torch.no_grad()
def embed_classes(model, classes) -> np.ndarray:
    """``(C, E)`` text embeddings of ClassInfo objects (or dicts) as this model reads them."""
    def g(c, k):
        return c[k] if isinstance(c, dict) else getattr(c, k)
    model.eval()
    texts = [model.prompt(g(c, "label_ar"), g(c, "label_en"), g(c, "signed_language")) for c in classes]
    langs = [g(c, "signed_language") for c in classes]
    out = []
    for i in range(0, len(texts), 128):
        out.append(model.encode_text(texts[i:i + 128], langs[i:i + 128]).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, model.cfg.embed_dim), np.float32)


def evaluate_items(model, items, classes: dict, candidates: list[str] | None = None) -> dict:
    """Metrics of ``items`` against the texts of ``candidates`` (default: the items' classes)."""
    cand = sorted(candidates or {it.cls for it in items})
    p = embed_items(model, items)
    t = embed_classes(model, [classes[c] for c in cand])
    return retrieval_metrics(p @ t.T, [it.cls for it in items], cand)


# -- runs ------------------------------------------------------------------------------------------------
def format_metrics(m: dict) -> str:
    keys = ["T2V_P@1", "T2V_P@5", "V2T_R@1", "V2T_R@5", "V2T_R@10", "V2T_MedianR"]
    return "  ".join(f"{k} {m[k]:.3f}" for k in keys if k in m)


def evaluate_checkpoint(path, protocol: str = "", dataset: str = "", test_signers: str = "",
                        baselines: bool = True) -> dict:
    """Re-run the test split a checkpoint was trained with (or another protocol) and the baselines."""
    from retrieval.data import make_splits
    from retrieval.model import load_model
    lm = load_model(path)
    run = lm.meta.get("run", {})
    datasets = dataset or ",".join(run.get("datasets", []))
    protocol = protocol or run.get("protocol", "auto")
    tsig = [s for s in (test_signers or ",".join(run.get("test_signers") or [])).split(",") if s] or None
    splits = make_splits(datasets, protocol, lm.config.features(), test_signers=tsig,
                         val_signers=run.get("val_signers") or None, val_fraction=run.get("val_fraction", 0.15),
                         seed=run.get("seed", 0), classes=run.get("classes") or None)
    if not splits.test:
        raise SystemExit(f"protocol {protocol} has no test split for {datasets}")
    res = {"checkpoint": str(path), "protocol": protocol, "datasets": datasets, "splits": splits.describe(),
           "model": evaluate_items(lm.model, splits.test, splits.classes)}
    if baselines:
        from retrieval.baselines import run_baselines
        res["baselines"] = run_baselines(splits)
    return res


def zero_shot(args, runs: int = 10, holdout: float = 0.2, seed: int = 0) -> dict:
    """CLIP-ArASL zero-shot protocol: returns per-run accuracies, mean, std and chance."""
    from retrieval.data import make_splits
    from retrieval.train import config_from_args, train_on_splits

    run_cfg = config_from_args(args)
    feat = run_cfg.model.features()
    base = make_splits(run_cfg.datasets, run_cfg.protocol, feat, test_signers=run_cfg.test_signers or None,
                       val_signers=run_cfg.val_signers or None, val_fraction=run_cfg.val_fraction,
                       seed=run_cfg.seed, classes=run_cfg.classes or None, progress=True)
    keys = sorted(base.classes)
    n_out = max(2, int(round(holdout * len(keys))))
    rng = np.random.default_rng(seed)
    accs, rows = [], []
    for r in range(runs):
        unseen = set(rng.choice(keys, size=n_out, replace=False).tolist())
        seen_split = type(base)([i for i in base.train if i.cls not in unseen], [i for i in base.val if i.cls not in unseen],
                                [i for i in base.test if i.cls not in unseen], base.classes, base.protocol,
                                base.datasets, list(base.notes))
        # unseen poses from the test signers when the protocol has them (signer-independent too)
        pool = base.test if base.test else base.train + base.val
        test = [i for i in pool if i.cls in unseen]
        out = Path(run_cfg.out).with_name(Path(run_cfg.out).stem + f"-zeroshot{r}.pt")
        model, _ = train_on_splits(run_cfg, seen_split, out, fresh=True, evaluate_test=False, quiet=True)
        m = evaluate_items(model, test, base.classes, candidates=sorted(unseen))
        accs.append(m["V2T_R@1"])
        rows.append({"run": r, "unseen": sorted(unseen), "accuracy": m["V2T_R@1"], "n": m["n_poses"]})
        print(f"zero-shot run {r}: accuracy {m['V2T_R@1']:.3f} on {m['n_poses']} poses of "
              f"{', '.join(base.classes[c].label for c in sorted(unseen))}", flush=True)
        out.unlink(missing_ok=True)
        out.with_suffix(".loss.png").unlink(missing_ok=True)
    return {"runs": rows, "mean": float(np.mean(accs)), "std": float(np.std(accs, ddof=1)) if runs > 1 else 0.0,
            "chance": 1.0 / n_out, "held_out_classes": n_out, "classes": len(keys)}


# Arabic words that are not lexicon labels but name a lexicon sign (inflections, synonyms, the correct
# spelling of a misspelt label): a held-out test set for `syrisign search` and the fuzzy matcher.
# (query, KArSL sign id)
SEARCH_QUERIES = [
    ("رئة", "0077"), ("الرئة", "0077"), ("رئتين", "0077"), ("الرئتين", "0077"),
    ("جمجمة", "0072"), ("الجمجمة", "0072"), ("الهيكل العظمي", "0071"), ("عظام", "0071"),
    ("العمود الفقري", "0073"), ("صدر", "0074"), ("القفص الصدري", "0074"), ("تنفس", "0075"),
    ("الجهاز التنفسي", "0075"), ("القصبة الهوائية", "0076"), ("قصبة", "0076"), ("شهيق", "0078"),
    ("زفير", "0078"), ("هضم", "0079"), ("الجهاز الهضمي", "0079"), ("الوجه", "0080"), ("وجوه", "0080"),
    ("البلعوم", "0081"), ("حلق", "0081"), ("الكبد", "0082"), ("أكباد", "0082"),
]


def search_eval(checkpoint=None, lexicon=None, spaces=("pose", "text", "both", "frozen")) -> dict:
    """Top-1/top-3 of :data:`SEARCH_QUERIES` among the lexicon's word signs, per similarity space, beside
    the frozen encoder alone (query vs labels, no training)."""
    from retrieval.index import LexiconIndex, is_fuzzy_target
    idx = LexiconIndex.load_or_build(checkpoint, lexicon)
    words = [e for e in idx.entries if is_fuzzy_target(e)]
    sid = {e.id: (e.glosses.split(":")[-1] if e.glosses.startswith("karsl:") else "") for e in words}
    out: dict = {}
    for space in spaces:
        if space == "frozen" and not idx.has_frozen:
            continue
        ranks = []
        for q, want in SEARCH_QUERIES:
            res = idx.search(q, k=50, space=space, words_only=True)
            got = [sid.get(m.entry.id, "") for m in res]
            ranks.append(got.index(want) + 1 if want in got else 99)
        r = np.array(ranks)
        out[space] = {"top1": float((r <= 1).mean()), "top3": float((r <= 3).mean()),
                      "misses": [q for (q, _), k in zip(SEARCH_QUERIES, ranks) if k > 1]}
    cfg = idx.loaded.config.text
    if cfg.kind == "frozen":
        from retrieval.model import frozen_encode
        labels = sorted({(e.words, sid[e.id]) for e in words})
        names = cfg.encoder.split("+")

        def enc(texts):
            return np.concatenate([frozen_encode(n, texts) for n in names], axis=1) / np.sqrt(len(names))
        lv, qv = enc([w for w, _ in labels]), enc([q for q, _ in SEARCH_QUERIES])
        sim = qv @ lv.T
        ranks = []
        for i, (_, want) in enumerate(SEARCH_QUERIES):
            seen: list[str] = []
            for j in np.argsort(-sim[i]):
                if labels[j][1] not in seen:
                    seen.append(labels[j][1])
            ranks.append(seen.index(want) + 1 if want in seen else 99)
        r = np.array(ranks)
        out[f"frozen {cfg.encoder} alone"] = {"top1": float((r <= 1).mean()), "top3": float((r <= 3).mean()),
                                              "misses": [q for (q, _), k in zip(SEARCH_QUERIES, ranks) if k > 1]}
    out["queries"] = len(SEARCH_QUERIES)
    out["fuzzy_calibration"] = idx.calibration
    # the fuzzy matcher at its calibrated threshold on the same held-out words
    acc = []
    for q, want in SEARCH_QUERIES:
        best = idx.fuzzy(q)
        if best is not None:
            acc.append((q, best[0].words, round(best[1], 3), sid.get(best[0].id, "") == want))
    out["fuzzy_at_threshold"] = {"accepted": len(acc), "correct": sum(a[3] for a in acc), "matches": acc}
    scores = []
    for q, want in SEARCH_QUERIES:
        b = idx.fuzzy_best(q)
        scores.append((q, b[0].words, round(b[1], 3), sid.get(b[0].id, "") == want))
    out["fuzzy_best_scores"] = scores
    return out


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", default="", help="checkpoint to evaluate on the test split it was trained with")
    p.add_argument("--zero-shot", type=int, default=0, metavar="N",
                   help="run the CLIP-ArASL zero-shot protocol N times (trains N models with the training options)")
    p.add_argument("--holdout", type=float, default=0.2, help="share of classes held out for zero-shot")
    p.add_argument("--search", action="store_true",
                   help="search test: Arabic inflections/synonyms of the KArSL words against the default lexicon")
    p.add_argument("--json", action="store_true", help="print JSON")
    # the training options: --zero-shot trains with them; --dataset/--protocol/--test-signers also
    # override the checkpoint's own test protocol
    from retrieval.train import add_arguments as train_arguments
    train_arguments(p, for_eval=True)


def main(args: argparse.Namespace) -> int:
    if args.search:
        res = search_eval(args.checkpoint or None)
        print(json.dumps(res, indent=2, ensure_ascii=False))
        return 0
    if args.zero_shot:
        res = zero_shot(args, runs=args.zero_shot, holdout=args.holdout, seed=args.seed)
        if args.json:
            print(json.dumps(res, indent=2, ensure_ascii=False))
        else:
            print(f"zero-shot ({res['held_out_classes']} of {res['classes']} classes held out, {len(res['runs'])} runs): "
                  f"accuracy {100 * res['mean']:.1f} ± {100 * res['std']:.1f} %, chance {100 * res['chance']:.1f} %")
        return 0
    from syrisign.settings import get_settings
    path = args.checkpoint or get_settings().checkpoint(f"retrieval-{(args.dataset or 'arabic').replace(',', '+')}.pt")
    res = evaluate_checkpoint(path, "" if args.protocol == "auto" else args.protocol,
                              args.dataset if args.checkpoint else "", args.test_signers,
                              baselines=not args.no_baselines)
    if args.json:
        print(json.dumps(res, indent=2, ensure_ascii=False))
    else:
        print(f"{res['checkpoint']}: {res['protocol']} on {res['datasets']}\n{res['splits']}")
        print(f"model    {format_metrics(res['model'])}")
        for k, v in res.get("baselines", {}).items():
            print(f"{k:8s} " + "  ".join(f"V2T_{m} {x:.3f}" for m, x in v.items() if m != "n"))
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(prog="python -m retrieval.evaluate", description=__doc__.split("\n")[0])
    add_arguments(ap)
    sys.exit(main(ap.parse_args()))
