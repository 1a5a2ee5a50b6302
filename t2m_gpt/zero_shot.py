"""Zero-shot generation: signs of words the generator never saw, judged like every other output.

A generator trained with ``train vqvae --exclude-classes`` (the zero-shot protocol's held-out words: no
recording of theirs reaches the VQ-VAE or the GPT), ideally conditioned on the retrieval model's text
space (``train t2m --text-encoder retrieval:<checkpoint>``, a retrieval model trained with ``--classes``
of the seen words only), generates each held-out word from its text. Then:

- **back-translation**: the judge of ``syrisign evaluate`` (the recognizer trained on every word of the
  training signers' recordings) labels each output; top-1 among all its words and among the held-out words
  only, each beside chance, and the judge's accuracy on the held-out signers' real recordings of those
  words (its ceiling);
- **DTW-MJE** (``syrisign.evaluation.metrics``, shoulder widths) of each output against the held-out
  signers' recordings of its word, beside the mean training pose (the lower bound), another word's
  training recording (the level of a wrong sign) and a training recording of the word itself (what a
  recording of it would give: the system never had one);
- the same judge on generated signs of seen words, for comparison.

``python -m t2m_gpt.zero_shot --checkpoint t2m-isl-zs.pt --json results/generative/zero_shot.json``
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def _texts(ds, prod) -> dict[str, str]:
    """Per word, the text the generator is given: its label in the language the model was trained on."""
    from syrisign.producers import SignUnit
    out = {}
    for s in ds.samples:
        if s.class_key not in out:
            ar, en = s.label_ar or s.label_en or s.class_key, s.label_en or s.label_ar or s.class_key
            out[s.class_key] = prod.text_of(SignUnit(text_ar=ar, text_en=en))
    return out


def zero_shot_generation(checkpoint: str, samples: int = 3, seed: int = 0, max_refs: int = 20,
                         seen_words: int = 6, progress: bool = True) -> dict:
    """Judge top-1 and DTW-MJE of generated signs of the checkpoint's held-out words (module docstring)."""
    from tqdm import tqdm

    from syrisign.data import ensure_dataset
    from syrisign.errors import SyriSignError
    from syrisign.evaluation.metrics import dtw_mje, eval_layout, mean_pose_sequence, pose_arrays, topk_hits
    from syrisign.evaluation.recognizer import ensure_recognizer
    from syrisign.evaluation.splits import evaluation_split
    from syrisign.ml.features import to_sequence
    from t2m_gpt.producer import GenerativeProducer

    t0 = time.perf_counter()
    # raw samples: a reranking retrieval model would have seen the held-out words
    prod = GenerativeProducer(checkpoint, seed=seed, candidates=1)
    unseen = sorted(prod.split.get("exclude_classes") or [])
    if not unseen:
        raise SyriSignError(f"{prod.path} was trained on every word: nothing is unseen (train its VQ-VAE with "
                            "--exclude-classes)")
    name = prod.split["dataset"]
    ds = ensure_dataset(name, progress=progress)
    split = evaluation_split(ds, name, "signer", prod.split["test_signers"], seed=0)
    judge, judge_info = ensure_recognizer(ds, split, progress=progress)
    index = {c: i for i, c in enumerate(judge.classes)}
    missing = [c for c in unseen if c not in index]
    if missing:
        raise SyriSignError(f"the judge has no class {', '.join(missing)}")
    labels = _texts(ds, prod)
    rng = np.random.default_rng(seed)
    seen_all = sorted(c for c in prod.train_texts if c in index and c not in unseen)
    seen = sorted(rng.choice(seen_all, min(seen_words, len(seen_all)), replace=False).tolist())

    def generated(words):
        out = {}
        for w in tqdm(words, desc="generating", leave=False, disable=not progress):
            res = prod.generate([labels[w]] * samples, seeds=[seed + k for k in range(samples)])
            out[w] = [to_sequence(x, None, prod.features) for x, _, _ in res]
        return out

    gen_unseen, gen_seen = generated(unseen), generated(seen)
    uidx = np.array([index[c] for c in unseen])

    def judged(by_word: dict) -> dict:
        seqs = [s for w in by_word for s in by_word[w]]
        y = np.array([index[w] for w in by_word for _ in by_word[w]])
        logits = judge.run(seqs).logits
        res = {"n": len(seqs), "top1_all": float(topk_hits(logits, y, 1).mean()),
               "top5_all": float(topk_hits(logits, y, 5).mean())}
        if set(by_word) <= set(unseen):
            sub = logits[:, uidx]
            yy = np.array([list(uidx).index(v) for v in y])
            res["top1_unseen"] = float(topk_hits(sub, yy, 1).mean())
        res["predicted"] = {w: [judge.classes[i] for i in logits[[k for k, v in enumerate(y) if v == index[w]]].argmax(1)]
                            for w in by_word}
        return res

    real_unseen = {w: [ds.load(s) for s in split.test if s.class_key == w][:max_refs] for w in unseen}
    report = {"checkpoint": str(prod.path), "dataset": name, "unseen_words": unseen, "seen_words": seen,
              "text_encoder": prod.gpt.cfg.text_encoder, "texts": {w: labels[w] for w in unseen},
              "samples_per_word": samples, "seed": seed, "test_signers": split.test_signers,
              "judge": {"checkpoint": judge_info.get("checkpoint"), "classes": len(judge.classes)},
              "chance": {"all": 1 / len(judge.classes), "unseen": 1 / len(unseen)},
              "back_translation": {"generated unseen": judged(gen_unseen), "generated seen": judged(gen_seen),
                                   "real held-out recordings of the unseen words": judged(real_unseen)}}

    # DTW-MJE against the held-out signers' recordings of each unseen word
    train_by: dict = {}
    for s in split.train:
        train_by.setdefault(s.class_key, []).append(s)
    layout = eval_layout(prod.features.layout)
    train_arrays = [pose_arrays(ds.load(s), layout) for w in sorted(train_by) if w not in unseen
                    for s in train_by[w][:10]]
    mean_seq = mean_pose_sequence(train_arrays)
    rows: dict[str, list[float]] = {k: [] for k in ("generated", "mean pose (static)", "another word's recording",
                                                    "a training recording of the word (never given to the model)")}
    others = [w for w in sorted(train_by) if w not in unseen]
    other_arrays = {o: pose_arrays(ds.load(train_by[o][0]), layout) for o in others}
    for w in tqdm(unseen, desc="DTW-MJE", leave=False, disable=not progress):
        hyps = [pose_arrays(s, layout) for s in gen_unseen[w]]
        own = [pose_arrays(ds.load(s), layout) for s in train_by.get(w, [])[:5]]
        for ref_seq in real_unseen[w]:
            ref = pose_arrays(ref_seq, layout)
            rows["generated"] += [dtw_mje(h, ref) for h in hyps]
            rows["mean pose (static)"].append(dtw_mje(mean_seq, ref))
            o = others[int(rng.integers(len(others)))]
            rows["another word's recording"].append(dtw_mje(other_arrays[o], ref))
            rows["a training recording of the word (never given to the model)"] += [dtw_mje(h, ref) for h in own]
    report["dtw_mje"] = {k: {"mean": float(np.nanmean(v)), "pairs": len(v)} for k, v in rows.items() if v}
    report["seconds"] = round(time.perf_counter() - t0, 1)
    return report


def format_report(r: dict) -> str:
    bt = r["back_translation"]
    lines = [f"zero-shot generation on {r['dataset']}: {len(r['unseen_words'])} words never seen in training "
             f"({', '.join(r['unseen_words'])}), {r['samples_per_word']} samples each, text encoder "
             f"{r['text_encoder']}; judge: {r['judge']['classes']} words, held-out signers "
             f"{', '.join(r['test_signers'])}", "",
             "| outputs | n | judge top-1 among all words | top-5 | top-1 among the unseen words |",
             "|---|---:|---:|---:|---:|"]
    for k, v in bt.items():
        lines.append(f"| {k} | {v['n']} | {v['top1_all']:.3f} | {v['top5_all']:.3f} | "
                     + (f"{v['top1_unseen']:.3f}" if "top1_unseen" in v else "–") + " |")
    lines.append(f"| chance | | {r['chance']['all']:.3f} | {min(1.0, 5 * r['chance']['all']):.3f} | "
                 f"{r['chance']['unseen']:.3f} |")
    lines += ["", "| DTW-MJE against the held-out signers' recordings of the unseen words | mean | pairs |",
              "|---|---:|---:|"]
    for k, v in r["dtw_mje"].items():
        lines.append(f"| {k} | {v['mean']:.3f} | {v['pairs']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from vqvae.train import quiet_threads
    quiet_threads()
    p = argparse.ArgumentParser(prog="python -m t2m_gpt.zero_shot", description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True, help="a T2M checkpoint whose VQ-VAE was trained with --exclude-classes")
    p.add_argument("--samples", type=int, default=3, help="generated signs per word (seeds)")
    p.add_argument("--max-refs", type=int, default=20, help="held-out recordings per word")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="write the report here")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    from syrisign.errors import SyriSignError
    try:
        r = zero_shot_generation(args.checkpoint, args.samples, args.seed, args.max_refs, progress=not args.quiet)
    except SyriSignError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(format_report(r))
    if args.json:
        from syrisign.data.dataset import write_json
        write_json(args.json, r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
