"""Generated signs of seen words against held-out signers' recordings (METRICS.md: DTW-MJE).

Rows of the table, all compared with the same held-out recordings (at most ``max_refs`` per word):

- T2M-GPT, sampled (the producer's settings, ``samples`` seeds per word) and greedy;
- nearest training recording of the same word, chosen per reference (oracle: the best a
  retrieval system with these recordings could do);
- medoid training recording of the word (what a lexicon holding one recording per word gives);
- a training recording of another word (medoids of every other word: the level of a wrong sign);
- the static mean training pose (lower bound);
- the VQ-VAE's reconstruction of the reference itself (what the token vocabulary can express).

``python -m t2m_gpt.evaluate --dataset isl`` re-runs it on a trained checkpoint.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict

import numpy as np

from t2m_gpt.metrics import dtw_mje_many, medoid


def _medoid(recs: list[tuple[np.ndarray, np.ndarray]], cap: int, rng: np.random.Generator) -> int:
    """Index of the recording with the least mean DTW-MJE to the others (among at most ``cap`` of them)."""
    idx = list(range(len(recs)))
    if len(idx) > cap:
        idx = sorted(rng.choice(len(recs), cap, replace=False).tolist())
    return idx[medoid([recs[i] for i in idx])]


def evaluate_generation(producer, split, samples: int = 3, seed: int = 0, max_refs: int = 20, medoid_cap: int = 20,
                        progress: bool = True, references: str = "test") -> dict:
    """DTW-MJE table of generated signs against the held-out recordings of ``split`` (a vqvae.data.Split);
    ``references="val"``: against the training signers' validation recordings instead (for choosing
    settings without looking at the held-out signers)."""
    try:
        from threadpoolctl import threadpool_limits  # comes with scikit-learn
        limit = threadpool_limits(1, user_api="blas")
    except ImportError:
        import contextlib
        limit = contextlib.nullcontext()
    # the matrices are small: one BLAS thread is faster, and far faster on a CPU shared with other work
    with limit:
        return _evaluate(producer, split, samples, seed, max_refs, medoid_cap, progress, references)


def _evaluate(producer, split, samples: int, seed: int, max_refs: int, medoid_cap: int, progress: bool,
              references: str = "test") -> dict:
    import torch
    from tqdm import tqdm

    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    train_by = defaultdict(list)
    for it in split.train:
        train_by[it.class_key].append(it)
    refs_by = defaultdict(list)
    if references not in ("test", "val"):
        raise ValueError(f"references must be test or val, not {references!r}")
    for it in split.test if references == "test" else split.val:
        refs_by[it.class_key].append(it)
    words = sorted(w for w in refs_by if w in train_by)
    for w in words:
        if len(refs_by[w]) > max_refs:
            pick = sorted(rng.choice(len(refs_by[w]), max_refs, replace=False).tolist())
            refs_by[w] = [refs_by[w][i] for i in pick]

    # mean pose of the training set, held for the median training length
    xs = np.concatenate([it.x for it in split.train])
    ms = np.concatenate([it.mask for it in split.train])[..., None]
    mean_pose = (xs * ms).sum(0) / np.maximum(ms.sum(0), 1)  # (J, 3)
    med_len = int(np.median([len(it.x) for it in split.train]))
    mean_seq = np.repeat(mean_pose[None], med_len, axis=0).astype(np.float32)

    medoids = {w: train_by[w][_medoid([(it.x, it.mask) for it in train_by[w]], medoid_cap, rng)] for w in words}
    all_medoids = {w: train_by[w][_medoid([(it.x, it.mask) for it in train_by[w]], medoid_cap, rng)]
                   for w in train_by if w not in medoids}
    all_medoids.update(medoids)

    rows: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))  # row -> word -> values
    by_signer: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))  # row -> signer -> values
    gen_info = {}
    bar = tqdm(words, desc="DTW-MJE", leave=False, disable=not progress)
    for w in bar:
        text = train_by[w][0].texts[0]
        sampled = [producer.sample(text, seed + k)[0] for k in range(samples)]  # best of n when it reranks
        greedy = producer.generate([text], seeds=[seed], temperature=0.0)
        gen_info[w] = {"text": text, "sampled_frames": [len(x) for x, _, _ in sampled],
                       "sampled_ended": [e for _, _, e in sampled], "greedy_frames": len(greedy[0][0])}
        refs = refs_by[w]
        with torch.no_grad():
            from syrisign.ml.features import collate
            x, jm, fm = collate([(r.x, r.mask) for r in refs])
            dev = next(producer.vq.parameters()).device
            recon = producer.vq(x.to(dev), jm.to(dev), fm.to(dev)).recon.float().cpu().numpy()
        others = [o for o in all_medoids if o != w]
        for k, r in enumerate(refs):
            # every hypothesis against this reference in one batched DTW: (row name, pose, mask)
            hyps = [("T2M-GPT sampled", x_s, None) for x_s, _, _ in sampled]
            hyps.append(("T2M-GPT greedy", greedy[0][0], None))
            hyps += [("nearest", t.x, t.mask) for t in train_by[w]]
            hyps.append(("medoid training recording", medoids[w].x, medoids[w].mask))
            hyps += [("another word's medoid recording", all_medoids[o].x, all_medoids[o].mask) for o in others]
            hyps.append(("mean pose (static)", mean_seq, None))
            hyps.append(("VQ-VAE reconstruction of the reference", recon[k, :len(r.x)], None))
            d = dtw_mje_many([h[1] for h in hyps], r.x, [h[2] for h in hyps], r.mask)
            nearest = [v for (name, _, _), v in zip(hyps, d) if name == "nearest"]
            rows["nearest training recording (oracle)"][w].append(float(np.nanmin(nearest)))
            by_signer["nearest training recording (oracle)"][r.signer].append(float(np.nanmin(nearest)))
            for (name, _, _), v in zip(hyps, d):
                if name != "nearest":
                    rows[name][w].append(float(v))
                    by_signer[name][r.signer].append(float(v))
    table = {}
    for name, per_word in rows.items():
        vals = np.array([v for vs in per_word.values() for v in vs], dtype=np.float64)
        vals = vals[np.isfinite(vals)]
        table[name] = {"dtw_mje": float(vals.mean()) if len(vals) else float("nan"),
                       "std": float(vals.std()) if len(vals) else float("nan"), "pairs": int(len(vals)),
                       "per_word": {w: float(np.nanmean(v)) for w, v in per_word.items()},
                       "per_signer": {g: float(np.nanmean(v)) for g, v in sorted(by_signer[name].items())}}
    return {"rows": table, "words": words, "references": int(sum(len(refs_by[w]) for w in words)),
            "max_refs_per_word": max_refs, "samples_per_word": samples, "seed": seed,
            "temperature": producer.temperature, "top_k": producer.top_k, "cfg_scale": producer.cfg_scale,
            "test_signers": split.test_signers, "reference_set": references, "candidates": producer.candidates,
            "select": producer.select if producer.candidates > 1 else None,
            "decode_layers": producer.decode_layers or "all",
            "generated": gen_info, "seconds": round(time.perf_counter() - t0, 1)}


ORDER = ["T2M-GPT sampled", "T2M-GPT greedy", "nearest training recording (oracle)", "medoid training recording",
         "another word's medoid recording", "mean pose (static)", "VQ-VAE reconstruction of the reference"]


def format_table(gen: dict) -> str:
    """A markdown table of the DTW-MJE rows."""
    signers = gen["test_signers"]
    per = len(signers) > 1
    val = gen.get("reference_set") == "val"
    if val:
        signers, per = [], False  # the training signers' validation recordings
    lines = [f"DTW-MJE (shoulder widths, lower is better) against {gen['references']} "
             f"{'validation recordings of the training signers' if val else 'held-out recordings'} of "
             f"{len(gen['words'])} seen words" + (f" (signers {', '.join(signers)})" if signers else ""), "",
             "| method | DTW-MJE | std | pairs |" + "".join(f" {g} |" for g in signers if per),
             "|---|---:|---:|---:|" + "---:|" * (len(signers) if per else 0)]
    for name in ORDER:
        r = gen["rows"].get(name)
        if r:
            label = name
            if name == "T2M-GPT sampled":
                n, select = gen.get("candidates", 1), gen.get("select") or "text"
                each = {"barycentre": f", each the barycentre of {n}",
                        "guarded": f", each the guarded barycentre of {n}"}.get(select, f", each of {n} by {select}")
                label += (f" (T={gen['temperature']:g}, top-k {gen['top_k']}, {gen['samples_per_word']} per word"
                          + (each if n > 1 else "")
                          + (", base tokens" if gen.get("decode_layers") == 1 else "") + ")")
            cells = "".join(f" {r.get('per_signer', {}).get(g, float('nan')):.4f} |" for g in signers if per)
            lines.append(f"| {label} | {r['dtw_mje']:.4f} | {r['std']:.4f} | {r['pairs']} |" + cells)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from vqvae.train import quiet_threads
    quiet_threads()
    p = argparse.ArgumentParser(prog="python -m t2m_gpt.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="karsl-words")
    p.add_argument("--checkpoint", default=None, help="T2M checkpoint (default: t2m-<dataset>.pt)")
    p.add_argument("--samples", type=int, default=3)
    p.add_argument("--max-refs", type=int, default=20)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-k", type=int, default=20)
    p.add_argument("--cfg-scale", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--candidates", type=int, default=None,
                   help="each sampled sign is the best of this many by the retrieval model (t2m_gpt.rerank; "
                        "default: the generator's, 8 when a retrieval model is trained; 1: no reranking)")
    p.add_argument("--reranker", default=None, help="retrieval checkpoint for --candidates (default: the evaluation's)")
    from t2m_gpt.rerank import SELECT
    p.add_argument("--select", choices=SELECT, default=SELECT[0],
                   help="how the candidates become one output: text (the closest to the text, default), consensus "
                        "(of the half closest to the text, the one the others agree with most: least mean DTW-MJE to "
                        "them), barycentre (their average along DTW paths, on the timing of the closest to the text) "
                        "or guarded (the barycentre unless the retrieval model reads the closest to the text as the "
                        "word and not the barycentre)")
    p.add_argument("--decode-layers", default=None,
                   help="residual VQ-VAE: all, base, or a number of layers (default: the checkpoint's choice)")
    p.add_argument("--references", choices=["test", "val"], default="test",
                   help="test: the held-out signers' recordings (default); val: the training signers' validation ones")
    p.add_argument("--json", default=None, help="write the result here")
    args = p.parse_args(argv)
    from syrisign.errors import SyriSignError
    from t2m_gpt.producer import GenerativeProducer
    from vqvae.data import load_split
    try:
        prod = GenerativeProducer(args.checkpoint or args.dataset, temperature=args.temperature, top_k=args.top_k,
                                  cfg_scale=args.cfg_scale, seed=args.seed, candidates=args.candidates,
                                  reranker=args.reranker, select=args.select, decode_layers=args.decode_layers)
        f, s = prod.features, prod.split
        split = load_split(args.dataset, s["test_signers"], f.layout, f.fps, s["val_frac"], s["seed"],
                           max_frames=f.max_frames, trim_idle=f.trim_idle, exclude_classes=s.get("exclude_classes"),
                           retarget=prod.retargeted)  # the references on the body the model was trained on
    except SyriSignError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    gen = evaluate_generation(prod, split, samples=args.samples, seed=args.seed, max_refs=args.max_refs,
                              references=args.references)
    print(format_table(gen))
    if args.json:
        from syrisign.data.dataset import write_json
        write_json(args.json, gen)
    return 0


if __name__ == "__main__":
    sys.exit(main())
