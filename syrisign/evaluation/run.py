"""``syrisign evaluate``: compare the methods on real held-out recordings of the same words.

For each dataset: the evaluation split (:mod:`~syrisign.evaluation.splits`), the recognizer
trained on its training part (the judge), the methods' outputs for every test word
(:mod:`~syrisign.evaluation.methods`) and two baselines computed in the same run:

- ``nearest real``: for each held-out recording, the training recording of the same word with
  the smallest DTW-MJE (the upper bound of what retrieval can do). Candidates are first ranked
  by the L2 distance of the sequences time-normalized to 32 frames and the exact DTW runs on the
  ``nearest_candidates`` best (documented approximation that keeps ISL's 540 x 54 pairs cheap);
- ``medoid recording``: for each word, the one training recording with the least mean DTW-MJE to
  the word's other training recordings (what a lexicon holding one recording per word plays;
  among the ``medoid_candidates`` most typical by time-normalized L2 when a word has more);
- ``mean pose``: the mean pose sequence of all training recordings (one sequence for every
  word, the lower bound).

``real held-out`` is the recognizer on the held-out recordings themselves: the ceiling.

Metrics (METRICS.md, :mod:`~syrisign.evaluation.metrics`), each with a 95 % percentile bootstrap
interval (1000 resamples, seed fixed):

- back-translation top-1/top-5 over every distinct output (label = the word it was made for);
- DTW-MJE: each held-out recording against one output of its word (output ``k mod n`` for the
  k-th recording of the word), in the face-less evaluation layout at 25 fps; in 3-D, and in the
  image plane (x-y, :func:`~syrisign.evaluation.metrics.image_plane`: MediaPipe's hand and face depth
  is relative, its offset from the body differs between signers);
- FID on the recognizer's penultimate features against the held-out recordings, PCA-reduced to
  16 dimensions fitted on the held-out features and Ledoit-Wolf covariances (few samples);
- diversity over 300 random pairs of outputs (all pairs when fewer);
- R-precision top-1/2/3 in the recognizer's pose-text space, pool = min(32, classes): all other
  classes when there are fewer than 32 (12 on KArSL, 30 on ISL);
- WER, join jerk and duration ratio on multi-sign sequences: the same random word sequences for
  every method, each word's output stitched with :func:`syrisign.stitch.stitch`; the recognizer
  labels every stitch segment (segment-level recognition, not a sliding window).
"""
from __future__ import annotations

import json
import math
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from syrisign.errors import SyriSignError
from syrisign.evaluation import metrics as M
from syrisign.evaluation.methods import METHODS, MethodUnavailable
from syrisign.pose import PoseSequence

REAL, NEAREST, MEDOID, MEAN = "real held-out", "nearest real", "medoid recording", "mean pose"
BASELINES = (REAL, NEAREST, MEDOID, MEAN)


@dataclass
class EvaluateConfig:
    datasets: list[str] = field(default_factory=lambda: ["karsl-words", "isl"])
    methods: list[str] = field(default_factory=lambda: list(METHODS))
    split: str = "signer"
    test_signers: list[str] | None = None
    samples: int = 5  # outputs per word for sampling methods (retrieval: top-k recordings)
    candidates: int | None = None  # T2M-GPT: each output the best of n samples by the retrieval model (None: default)
    select: str | None = None  # T2M-GPT: how the n candidates become one output (t2m_gpt.rerank.SELECT; None: default)
    sentences: int = 20  # multi-sign sequences per dataset
    sentence_length: int = 3
    pairs: int = 300  # diversity
    pool: int = 32  # R-precision
    fid_dims: int = 16
    bootstrap: int = 1000
    seed: int = 0
    dtw_fps: float = M.EVAL_FPS
    nearest_candidates: int = 5
    medoid_candidates: int = 20
    train_missing: bool = True
    train_minutes: float | None = 4.0  # budget per missing training (the faster configuration)
    retrain_recognizer: bool = False
    recognizer_epochs: int = 60
    recognizer_minutes: float = 5.0
    out: str = "results/evaluation"
    video: bool = True
    progress: bool = True
    threads: int = 1


# -- helpers ---------------------------------------------------------------------------------------------
def _ci(t: tuple[float, float, float]) -> dict:
    est, lo, hi = t
    f = (lambda v: None if v is None or not math.isfinite(v) else round(float(v), 4))
    return {"value": f(est), "low": f(lo), "high": f(hi)}


def _log(msg: str, cfg: EvaluateConfig) -> None:
    if cfg.progress:
        print(f"evaluate: {msg}", flush=True)


def _array_seq(x: np.ndarray, m: np.ndarray, layout: str, fps: float, meta: dict | None = None) -> PoseSequence:
    """Arrays over the evaluation joints of ``layout`` back to a sequence of the full layout
    (the joints left out, the legs, are missing)."""
    from syrisign.skeletons import get_skeleton
    sk = get_skeleton(layout)
    keep = M.eval_joints(layout)
    data = np.zeros((len(x), len(sk.joints), 3), np.float32)
    conf = np.zeros((len(x), len(sk.joints)), np.float32)
    data[:, keep], conf[:, keep] = x, m
    return PoseSequence(data, conf, fps, sk, meta=dict(meta or {}, normalized=True))


def _short(x: np.ndarray, m: np.ndarray, n: int = 32) -> np.ndarray:
    xi, mi = M.time_normalize(x, m, n)
    return np.where(mi[..., None], xi, 0.0).reshape(-1)


def nearest_real(test_arr, test_keys, train_arr, train_keys, k: int) -> tuple[list[int], list[float]]:
    """For each held-out recording: the index of the training recording of its word with the least
    DTW-MJE (among the ``k`` best by time-normalized L2) and that DTW-MJE."""
    short_train = np.stack([_short(*a) for a in train_arr])
    by_key: dict[str, list[int]] = {}
    for j, c in enumerate(train_keys):
        by_key.setdefault(c, []).append(j)
    picks, scores = [], []
    for a, c in zip(test_arr, test_keys):
        cand = np.asarray(by_key[c])
        d = np.linalg.norm(short_train[cand] - _short(*a)[None], axis=1)
        cand = cand[np.argsort(d, kind="stable")[:k]]
        s = [M.dtw_mje(train_arr[j], a) for j in cand]
        s = [v if math.isfinite(v) else math.inf for v in s]
        i = int(np.argmin(s))
        picks.append(int(cand[i]))
        scores.append(float(s[i]))
    return picks, scores


def medoid_recordings(arrays, keys, words, k: int) -> dict[str, int]:
    """For each word of ``words``: the index (into ``arrays``) of its recording with the least mean
    DTW-MJE to the word's other recordings, among its ``k`` most typical by time-normalized L2
    (:func:`retrieval.producer.typicality_order`) when it has more than ``k``."""
    from retrieval.producer import typicality_order
    from t2m_gpt.metrics import medoid
    by_key: dict[str, list[int]] = {}
    for j, c in enumerate(keys):
        by_key.setdefault(c, []).append(j)
    out = {}
    for w in words:
        idx = by_key.get(w, [])
        if not idx:
            continue
        if len(idx) > k:
            idx = [idx[i] for i in typicality_order([arrays[j] for j in idx])[:k]]
        out[w] = idx[medoid([arrays[j] for j in idx])]
    return out


# -- one system --------------------------------------------------------------------------------------------
@dataclass
class System:
    """What a method (or baseline) produced: distinct outputs with their word, and the output paired
    with each held-out recording."""

    name: str
    outputs: list[PoseSequence]
    keys: list[str]  # word (class key) of each output
    paired: list[int | None]  # per held-out recording: index into outputs (None: no output for it)
    per_word: dict[str, list[int]]  # word -> indices of its outputs (for sentences)
    info: dict = field(default_factory=dict)


def _system_from_outputs(name: str, per_class: dict[str, list[PoseSequence]], test_keys: list[str],
                         info: dict) -> System:
    outputs, keys, per_word = [], [], {}
    for c, seqs in per_class.items():
        per_word[c] = []
        for s in seqs:
            per_word[c].append(len(outputs))
            outputs.append(s)
            keys.append(c)
    seen: dict[str, int] = {}
    paired = []
    for c in test_keys:
        k = seen.get(c, 0)
        seen[c] = k + 1
        idx = per_word.get(c) or []
        paired.append(idx[k % len(idx)] if idx else None)
    return System(name, outputs, keys, paired, per_word, info)


def _sentences(words: list[str], n: int, length: int, seed: int) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        k = min(length, len(words))
        out.append([str(w) for w in rng.choice(words, size=k, replace=len(words) < k)])
    return out


def _stitch_metrics(system: System, sentences: list[list[str]], rec, layout: str, cfg: EvaluateConfig) -> dict:
    """WER (segment recognition), join jerk and duration ratio over the stitched word sequences."""
    from syrisign.stitch import StitchError, stitch
    errors, lengths, jerks, ratios, examples = [], [], [], [], []
    for si, words in enumerate(sentences):
        clips = []
        for p, w in enumerate(words):
            idx = system.per_word.get(w)
            if not idx:
                break
            clips.append(system.outputs[idx[(si + p) % len(idx)]])
        if len(clips) != len(words):
            continue
        try:
            res = stitch(clips, labels=words, fps=25.0, skeleton=layout)
        except StitchError as e:
            examples.append({"words": words, "error": str(e)})
            continue
        segs = [res.sequence[s.start_frame:max(s.end_frame, s.start_frame + 2)] for s in res.segments]
        pred = [rec.classes[i] for i in rec.run(segs).logits.argmax(1)]
        errors.append(M.edit_distance(words, pred))
        lengths.append(len(words))
        jerks.append(M.join_jerk(res.sequence, res.joins))
        ratios.append(M.duration_ratio(res.sequence, clips))
        if len(examples) < 3:
            examples.append({"words": words, "recognized": pred})
    if not lengths:
        return {"n": 0}
    e, L = np.asarray(errors, float), np.asarray(lengths, float)
    wer = M.bootstrap_stat(lambda i: e[i].sum() / max(1.0, L[i].sum()), [len(e)], cfg.bootstrap, seed=cfg.seed)
    return {"n": len(lengths), "wer": _ci(wer), "join_jerk": _ci(M.bootstrap_ci(jerks, cfg.bootstrap, seed=cfg.seed)),
            "duration_ratio": _ci(M.bootstrap_ci(ratios, cfg.bootstrap, seed=cfg.seed)), "examples": examples}


def system_metrics(system: System, rec, class_index: dict[str, int], text_space: np.ndarray, real_feats: np.ndarray,
                   basis: M.FeatureBasis, test_arr: list, dtw_layout: str, sentences: list[list[str]],
                   cfg: EvaluateConfig, dtw: list[float] | None = None) -> tuple[dict, dict]:
    """All metrics of one system, and the arrays the plots need."""
    B, seed = cfg.bootstrap, cfg.seed
    out = rec.run(system.outputs)
    y = np.array([class_index[k] for k in system.keys])
    res: dict = {"outputs": len(system.outputs), **system.info}
    res["bt_top1"] = _ci(M.bootstrap_ci(M.topk_hits(out.logits, y, 1), B, seed=seed))
    res["bt_top5"] = _ci(M.bootstrap_ci(M.topk_hits(out.logits, y, 5), B, seed=seed))
    arrays = {j: M.pose_arrays(system.outputs[j], dtw_layout, cfg.dtw_fps) for j in set(system.paired) - {None}}
    pairs = [(arrays[j], ref) if j is not None else None for j, ref in zip(system.paired, test_arr)]
    if dtw is None:
        dtw = [M.dtw_mje(*p) if p else math.nan for p in pairs]
    res["dtw_mje"] = _ci(M.bootstrap_ci(dtw, B, seed=seed))
    res["dtw_pairs"] = int(np.isfinite(dtw).sum())
    xy = [M.dtw_mje(M.image_plane(p[0]), M.image_plane(p[1])) if p else math.nan for p in pairs]
    res["dtw_mje_xy"] = _ci(M.bootstrap_ci(xy, B, seed=seed))
    feats = out.features
    if len(feats) >= 2:
        res["fid"] = _ci(M.bootstrap_stat(lambda i, j: M.fid(feats[i], real_feats[j], basis=basis),
                                          [len(feats), len(real_feats)], B, seed=seed))
    d = M.diversity_distances(feats, cfg.pairs, seed)
    res["diversity"] = _ci(M.bootstrap_ci(d, B, seed=seed))
    res["diversity_pairs"] = int(len(d))
    hits, pool = M.r_precision_hits(out.pose_space, text_space, y, cfg.pool, seed=seed)
    for t in range(3):
        res[f"r_precision_top{t + 1}"] = _ci(M.bootstrap_ci(hits[:, t], B, seed=seed))
    res["r_precision_pool"] = pool
    res["sentences"] = _stitch_metrics(system, sentences, rec, dtw_layout, cfg)
    return res, {"features": feats, "labels": y, "pred": out.logits.argmax(1)}


# -- one dataset -------------------------------------------------------------------------------------------
def evaluate_dataset(name: str, cfg: EvaluateConfig) -> tuple[dict, dict]:
    """``(results for the JSON, arrays and sequences for the plots and the video grid)``."""
    from syrisign.data import ensure_dataset
    from syrisign.evaluation.methods import ensure_checkpoint, method_outputs, split_mismatch
    from syrisign.evaluation.recognizer import RecognizerTrainConfig, ensure_recognizer
    from syrisign.evaluation.splits import evaluation_split

    t_start = time.perf_counter()
    timing: dict[str, float] = {}
    ds = ensure_dataset(name, progress=cfg.progress)
    name = Path(name).name if (Path(name) / "manifest.csv").is_file() else name
    split = evaluation_split(ds, name, cfg.split, cfg.test_signers, seed=cfg.seed)
    _log(f"{name}: {len(split.train)} train / {len(split.val)} val / {len(split.test)} test recordings, "
         f"test signers {split.test_signers or '-'}", cfg)

    t0 = time.perf_counter()
    rtc = RecognizerTrainConfig(epochs=cfg.recognizer_epochs, max_minutes=cfg.recognizer_minutes, seed=cfg.seed,
                                threads=cfg.threads)
    rec, rec_info = ensure_recognizer(ds, split, retrain=cfg.retrain_recognizer, progress=cfg.progress,
                                      train_config=rtc)
    timing["recognizer"] = round(time.perf_counter() - t0, 1)
    class_index = {c: i for i, c in enumerate(rec.classes)}
    text_space = rec.text_space()

    skeleton = sorted({s.skeleton for s in ds.samples})[0]
    layout = M.eval_layout(skeleton)
    test = split.test
    test_keys = [s.class_key for s in test]
    test_seqs = [ds.load(s) for s in test]
    lexicon = split.train + split.val  # the training signers' recordings
    lex_seqs = [ds.load(s) for s in lexicon]
    lex_keys = [s.class_key for s in lexicon]
    test_arr = [M.pose_arrays(s, layout, cfg.dtw_fps) for s in test_seqs]
    lex_arr = [M.pose_arrays(s, layout, cfg.dtw_fps) for s in lex_seqs]
    words = split.test_classes

    # the ceiling: the recognizer on the held-out recordings themselves
    t0 = time.perf_counter()
    real_out = rec.run(test_seqs)
    real_y = np.array([class_index[k] for k in test_keys])
    real_feats = real_out.features
    basis = M.FeatureBasis.fit(real_feats, cfg.fid_dims)
    sentences = _sentences(words, cfg.sentences, cfg.sentence_length, cfg.seed)

    systems: list[System] = []
    real_sys = _system_from_outputs(REAL, {}, [], {"note": "the held-out recordings themselves (ceiling)"})
    real_sys.outputs, real_sys.keys = test_seqs, test_keys
    real_sys.per_word = {}
    for i, c in enumerate(test_keys):
        real_sys.per_word.setdefault(c, []).append(i)
    real_sys.paired = [None] * len(test)

    # baselines
    _log(f"{name}: baselines (nearest real recording, medoid recording, mean pose)", cfg)
    picks, near_scores = nearest_real(test_arr, test_keys, lex_arr, lex_keys, cfg.nearest_candidates)
    uniq = sorted(set(picks))
    pos = {j: i for i, j in enumerate(uniq)}
    near = System(NEAREST, [lex_seqs[j] for j in uniq], [lex_keys[j] for j in uniq], [pos[j] for j in picks], {},
                  {"note": f"training recording of the same word with the least DTW-MJE to each held-out recording "
                           f"(exact DTW on the {cfg.nearest_candidates} best by time-normalized L2)",
                   "distinct_recordings": len(uniq)})
    for i, c in enumerate(near.keys):
        near.per_word.setdefault(c, []).append(i)
    med = medoid_recordings(lex_arr, lex_keys, words, cfg.medoid_candidates)
    medoid = _system_from_outputs(MEDOID, {c: [lex_seqs[j]] for c, j in med.items()}, test_keys,
                                  {"note": f"the training recording of each word with the least mean DTW-MJE to the "
                                           f"word's other training recordings (among its {cfg.medoid_candidates} most "
                                           f"typical): one recording per word"})
    mx, mm = M.mean_pose_sequence(lex_arr)
    mean_seq = _array_seq(mx, mm, layout, cfg.dtw_fps, {"source": "mean pose"})
    mean = _system_from_outputs(MEAN, {c: [mean_seq] for c in words}, test_keys,
                                {"note": "mean pose sequence of all training recordings, the same for every word",
                                 "frames": len(mx)})
    timing["baselines"] = round(time.perf_counter() - t0, 1)

    # methods
    method_info: dict[str, dict] = {}
    for method in cfg.methods:
        t0 = time.perf_counter()
        try:
            _log(f"{name}: {method}: checkpoint", cfg)
            info = ensure_checkpoint(method, name, cfg.train_missing, cfg.train_minutes, cfg.threads)
            _log(f"{name}: {method}: producing outputs for {len(words)} words", cfg)
            warn = split_mismatch(info.get("training_split", {}), split.test_signers, name)
            if warn:
                info["warning"] = warn
                _log(f"{name}: {method}: WARNING {warn}", cfg)
            mo = method_outputs(method, info, ds, split, words, cfg.samples, cfg.seed, cfg.candidates,
                              cfg.select)
            systems.append(_system_from_outputs(method, mo.outputs, test_keys, mo.info))
            method_info[method] = mo.info
        except (MethodUnavailable, SyriSignError, ImportError) as e:
            method_info[method] = {"error": str(e)}
            _log(f"{name}: {method} unavailable: {e}", cfg)
        timing[method] = round(time.perf_counter() - t0, 1)

    # metrics
    results: dict = {}
    plots: dict = {"classes": rec.classes, "words": words, "layout": layout, "systems": {}}
    all_systems = [(real_sys, None), (near, near_scores), (medoid, None), (mean, None)] + [(s, None) for s in systems]
    for sys_, dtw in all_systems:
        t0 = time.perf_counter()
        _log(f"{name}: metrics of {sys_.name}", cfg)
        if sys_.name == REAL:
            res, arr = _real_metrics(real_sys, real_out, real_y, text_space, lex_seqs, lex_keys, rec, class_index,
                                     basis, layout, sentences, cfg)
        else:
            res, arr = system_metrics(sys_, rec, class_index, text_space, real_feats, basis, test_arr, layout,
                                      sentences, cfg, dtw)
        results[sys_.name] = res
        plots["systems"][sys_.name] = dict(arr, system=sys_)
        timing[f"metrics {sys_.name}"] = round(time.perf_counter() - t0, 1)
    for m, info in method_info.items():
        if "error" in info:
            results[m] = {"error": info["error"]}

    timing["total"] = round(time.perf_counter() - t_start, 1)
    rec_summary = dict(rec_info)
    rec_summary.update({"classes": rec.classes, "class_texts": rec.class_texts, "config": asdict(rec.config),
                        "heldout_top1": results[REAL]["bt_top1"], "heldout_top5": results[REAL]["bt_top5"]})
    out = {"dataset": name, "split": split.describe(ids=True), "eval_layout": layout, "recognizer": rec_summary,
           "systems": results, "sentences": sentences, "timing_seconds": timing}
    plots.update(real_pred=real_out.logits.argmax(1), real_y=real_y, test_seqs=test_seqs, test_keys=test_keys,
                 label_of=ds.label_of())
    return out, plots


def _real_metrics(real: System, out, y, text_space, lex_seqs, lex_keys, rec, class_index, basis, layout,
                  sentences, cfg) -> tuple[dict, dict]:
    """The held-out recordings as a system: the recognizer's ceiling; FID of the training signers'
    recordings of the same words against them (the FID a perfect copy of the lexicon gets)."""
    B, seed = cfg.bootstrap, cfg.seed
    res: dict = {"outputs": len(real.outputs), "note": real.info["note"]}
    res["bt_top1"] = _ci(M.bootstrap_ci(M.topk_hits(out.logits, y, 1), B, seed=seed))
    res["bt_top5"] = _ci(M.bootstrap_ci(M.topk_hits(out.logits, y, 5), B, seed=seed))
    words = set(real.keys)
    lex = [s for s, k in zip(lex_seqs, lex_keys) if k in words]
    lex_feats = rec.run(lex).features
    feats = out.features
    res["fid"] = _ci(M.bootstrap_stat(lambda i, j: M.fid(lex_feats[i], feats[j], basis=basis),
                                      [len(lex_feats), len(feats)], B, seed=seed))
    res["fid_note"] = "training signers' recordings of the same words against the held-out ones"
    d = M.diversity_distances(feats, cfg.pairs, seed)
    res["diversity"] = _ci(M.bootstrap_ci(d, B, seed=seed))
    res["diversity_pairs"] = int(len(d))
    hits, pool = M.r_precision_hits(out.pose_space, text_space, y, cfg.pool, seed=seed)
    for t in range(3):
        res[f"r_precision_top{t + 1}"] = _ci(M.bootstrap_ci(hits[:, t], B, seed=seed))
    res["r_precision_pool"] = pool
    res["sentences"] = _stitch_metrics(real, sentences, rec, layout, cfg)
    return res, {"features": feats, "labels": y, "pred": out.logits.argmax(1)}


# -- everything --------------------------------------------------------------------------------------------
def environment(cfg: EvaluateConfig) -> dict:
    import os

    import torch
    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
            "platform": platform.platform(), "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}


def run(cfg: EvaluateConfig, command: str = "") -> dict:
    """Evaluate every dataset, write the report, return the JSON content."""
    import torch

    from syrisign.evaluation.report import write_report
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    from syrisign.ml.device import seed_everything
    seed_everything(cfg.seed)
    t0 = time.perf_counter()
    report = {"command": command, "config": asdict(cfg), "environment": environment(cfg), "datasets": {}}
    plots = {}
    for name in cfg.datasets:
        res, arr = evaluate_dataset(name, cfg)
        report["datasets"][res["dataset"]] = res
        plots[res["dataset"]] = arr
    report["total_seconds"] = round(time.perf_counter() - t0, 1)
    report["environment"]["load_average_at_end"] = list(__import__("os").getloadavg())
    write_report(report, plots, Path(cfg.out), cfg)
    return report


def to_json(report: dict) -> str:
    def default(o):
        if isinstance(o, (np.floating, np.integer)):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, Path):
            return str(o)
        return str(o)
    return json.dumps(report, ensure_ascii=False, indent=1, default=default)
