"""The evaluation report: ``evaluation.json``, ``README.md`` (one table), matplotlib plots and a
video grid (the same words from every method beside a real held-out recording), all written
atomically into one folder. Media are kept small (< 1 MB each) so the report can be committed.
"""
from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np

from syrisign.evaluation.run import BASELINES
from syrisign.pose import atomic_write_bytes

COLUMNS = [  # (key, header, better)
    ("bt_top1", "BT top-1 ↑", "max"),
    ("bt_top5", "BT top-5 ↑", "max"),
    ("dtw_mje", "DTW-MJE ↓", "min"),
    ("dtw_mje_xy", "DTW-MJE x-y ↓", "min"),
    ("fid", "FID ↓", "min"),
    ("diversity", "Diversity", ""),
    ("r_precision_top1", "R-prec top-1 ↑", "max"),
    ("r_precision_top2", "R-prec top-2 ↑", "max"),
    ("r_precision_top3", "R-prec top-3 ↑", "max"),
    ("wer", "WER ↓", "min"),
    ("join_jerk", "Join jerk ↓", "min"),
    ("duration_ratio", "Duration ratio", ""),
]
STITCH_KEYS = ("wer", "join_jerk", "duration_ratio")


def _cell(res: dict, key: str) -> dict | None:
    v = res.get("sentences", {}).get(key) if key in STITCH_KEYS else res.get(key)
    return v if isinstance(v, dict) and v.get("value") is not None else None


def _fmt(v: dict | None, digits: int = 3) -> str:
    if v is None:
        return "–"
    s = f"{v['value']:.{digits}f}"
    if v.get("low") is not None and v.get("high") is not None:
        s += f" [{v['low']:.{digits}f}, {v['high']:.{digits}f}]"
    return s


def _digits(key: str) -> int:
    return 2 if key in ("fid", "diversity", "join_jerk") else 3


def markdown(report: dict) -> str:
    """The report page: one table of every dataset and system, then how the numbers were made."""
    lines = ["# Evaluation: retrieval, T2M-GPT and MotionCLIP against real held-out recordings", ""]
    cmd = report.get("command") or "syrisign evaluate"
    lines += [f"Made by `{cmd}` in {report.get('total_seconds', 0) / 60:.1f} minutes "
              f"({report['environment'].get('cpu_count')} CPU cores, shared with other work while it ran; "
              f"load average {', '.join(f'{x:.1f}' for x in report['environment'].get('load_average_at_start') or [])} "
              f"at the start). Values are means with 95 % bootstrap intervals "
              f"({report['config']['bootstrap']} resamples, seed {report['config']['seed']}). "
              "Raw numbers: [evaluation.json](evaluation.json).", ""]
    head = ["Dataset", "System"] + [h for _, h, _ in COLUMNS]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, d in report["datasets"].items():
        for sysname, res in d["systems"].items():
            if "error" in res:
                lines.append(f"| {name} | {sysname} | " + " | ".join(["n/a"] * len(COLUMNS)) + " |")
                continue
            cells = [_fmt(_cell(res, k), _digits(k)) for k, _, _ in COLUMNS]
            lines.append(f"| {name} | {sysname} | " + " | ".join(cells) + " |")
    lines.append("")
    errors = [(n, s, r["error"]) for n, d in report["datasets"].items() for s, r in d["systems"].items() if "error" in r]
    if errors:
        lines += ["Systems that could not be evaluated:", ""]
        lines += [f"- {n} / {s}: {e}" for n, s, e in errors]
        lines.append("")
    lines += ["## How each number was made", "",
              "- **Systems.** *real held-out*: the held-out recordings themselves (the recognizer's ceiling). "
              "*nearest real*: for each held-out recording, the training recording of the same word with the least "
              "DTW-MJE (the upper bound of retrieval). *medoid recording*: for each word, the training recording with "
              "the least mean DTW-MJE to the word's other training recordings (one recording per word, as a lexicon "
              "plays it). *mean pose*: the mean pose sequence of all training recordings, "
              "the same for every word (lower bound). *retrieval*: the top training recordings of the retrieval "
              "model's text→pose ranking (the first is what `syrisign search` picks; a wrong word counts against it). "
              "*generative*: T2M-GPT, several samples per word (seeds 0..k-1). *motionclip*: MotionCLIP, deterministic, "
              "one output per word.",
              "- **BT top-1/top-5** (back-translation): the recognizer's accuracy on every distinct output, labelled "
              "with the word it was made for, among all the recognizer's classes.",
              "- **DTW-MJE** (shoulder widths): each held-out recording against one output of its word, DTW with "
              "Euclidean frame cost over the joints both frames have, then the mean per-joint L2 along the path; "
              "face-less layout (upper body and hands; Kinect-20 on ISL) at 25 fps after shoulder normalization. "
              "*x-y*: the same on the image plane only (MediaPipe estimates a hand's and the face's depth only "
              "about the wrist and the face's centre, and the offset from the body left after normalization differs "
              "from signer to signer, so part of a 3-D difference between two people is not movement; the same "
              "alignment recomputed on x-y). *nearest real* is chosen by the 3-D figure.",
              "- **FID**: Fréchet distance between the recognizer's penultimate features of the outputs and of the "
              "held-out recordings, projected on 16 principal axes of the held-out features, Ledoit-Wolf "
              "covariances (tens of samples per set; a textbook 128-d FID would be singular). For *real held-out* it "
              "is the training signers' recordings of the same words against the held-out ones.",
              "- **Diversity**: mean Euclidean distance of the same features over 300 random pairs of outputs "
              "(all pairs when there are fewer: see `diversity_pairs` in the JSON).",
              "- **R-precision**: the output's own word text among the texts of other words, ranked by distance in "
              "the recognizer's pose-text space; the pool is all classes (12 on KArSL words, 30 on ISL: fewer than 32).",
              "- **Caveats.** *nearest real*, *medoid recording* and *retrieval* outputs are training recordings: the "
              "recognizer was trained on them, so their back-translation mostly says whether the right word was picked. With the "
              "pool holding every class, R-precision top-1 ranks the same pose-text similarities as the recognizer's "
              "text head and equals BT top-1 (ties aside); top-2/3 add information. FID's bootstrap resamples "
              "contain duplicates, which raises FID, so its interval can lie above the full-sample value.",
              "- **WER, join jerk, duration ratio**: the same random 3-word sequences for every system, each word's "
              "output stitched by `syrisign.stitch.stitch` (25 fps); WER of the recognizer's label of each stitch "
              "segment (segment-level recognition, not a sliding window); join jerk (dominant wrist, ±5 frames, "
              "shoulder widths/s³) and duration ratio (output frames / the clips' signing frames) as in "
              "`syrisign.stitch`.",
              ""]
    for name, d in report["datasets"].items():
        sp, rec = d["split"], d["recognizer"]
        lines += [f"## {name}", "",
                  f"- **Split** ({sp['mode']}, seed {sp['seed']}): training signers {', '.join(sp['train_signers'])}, "
                  f"held-out signers {', '.join(sp['test_signers']) or '-'}; {sp['counts']['train']} train, "
                  f"{sp['counts']['val']} validation, {sp['counts']['test']} test recordings; "
                  f"{len(sp['train_classes'])} training words, {len(sp['test_classes'])} test words. "
                  f"Exact ids and SHA-256 in the JSON (`split`).",
                  f"- **Recognizer** (the judge, {rec.get('config', {}).get('head', '')} head, "
                  f"{rec.get('config', {}).get('layout', '')} input): trained on the training split only in "
                  f"{rec.get('seconds', 0):.0f} s ({rec.get('epochs_run', '?')} epochs, {rec.get('stopped', '')}); "
                  f"validation top-1 {rec.get('val_acc', float('nan')):.3f}; held-out real recordings top-1 "
                  f"{_fmt(rec.get('heldout_top1'))}, top-5 {_fmt(rec.get('heldout_top5'))}: the ceiling for generated "
                  f"signs.",
                  f"- **Time**: {d['timing_seconds'].get('total', 0):.0f} s in total; "
                  + ", ".join(f"{k} {v:.0f} s" for k, v in d["timing_seconds"].items() if k != "total") + "."]
        for sysname, res in d["systems"].items():
            notes = []
            for k in ("checkpoint", "note", "warning"):
                if res.get(k):
                    notes.append(f"{k}: {res[k]}")
            ts = res.get("training_split") or {}
            if ts.get("test_signers") is not None or ts.get("protocol"):
                notes.append("its training held out " + (f"signers {', '.join(ts.get('test_signers') or []) or '-'}"
                                                         + (f" (protocol {ts['protocol']})" if ts.get("protocol") else "")))
            if res.get("samples_per_word"):
                notes.append(f"{res['samples_per_word']} output(s) per word"
                             + (", deterministic" if res.get("deterministic") else ""))
            if res.get("reranker"):
                notes.append(f"each output the best of {res['candidates']} samples by the text-pose similarity of "
                             f"{Path(res['reranker']).name} (t2m_gpt.rerank)")
            for t in res.get("trained", []) or []:
                notes.append(f"trained here: `{t['module']} {' '.join(t['argv'])}` in {t['seconds']:.0f} s")
            if "top1_pick_correct" in res:
                notes.append(f"top-1 pick of the right word for {100 * res['top1_pick_correct']:.0f} % of the words")
            if notes:
                lines.append(f"- *{sysname}*: " + "; ".join(notes))
        lines.append("")
    lines += ["## Figures", ""]
    for name in report["datasets"]:
        lines += [f"### {name}", "",
                  f"![metrics]({name}-metrics.png)", "",
                  f"![recognizer confusion]({name}-confusion.png)", "",
                  f"![t-SNE]({name}-tsne.png)", ""]
        for ext in ("mp4", "png"):
            p = report.get("media", {}).get(name, {}).get(ext)
            if p:
                lines.append(f"Video grid ({ext}): [{Path(p).name}]({Path(p).name})" if ext == "mp4"
                             else f"![video grid stills]({Path(p).name})")
                lines.append("")
    return "\n".join(lines) + "\n"


# -- plots ---------------------------------------------------------------------------------------------
def _save(fig, path: Path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    import matplotlib.pyplot as plt
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def plot_metrics(d: dict, path: Path) -> None:
    """Bars with 95 % intervals, one panel per metric, one bar per system."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    systems = [s for s, r in d["systems"].items() if "error" not in r]
    keys = [(k, h) for k, h, _ in COLUMNS]
    cols = 4
    rows = math.ceil(len(keys) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows))
    colors = plt.get_cmap("tab10")(np.arange(len(systems)))
    for ax, (k, h) in zip(axes.flat, keys):
        vals, lo, hi = [], [], []
        for s in systems:
            c = _cell(d["systems"][s], k)
            v = c["value"] if c else np.nan
            vals.append(v)
            # a biased statistic (FID) can sit outside its percentile interval: draw what is on each side
            lo.append(max(0.0, v - c["low"]) if c and c.get("low") is not None else 0)
            hi.append(max(0.0, c["high"] - v) if c and c.get("high") is not None else 0)
        x = np.arange(len(systems))
        ax.bar(x, vals, yerr=[lo, hi], color=colors, capsize=3)
        ax.set_title(h, fontsize=9)
        ax.set_xticks(x, [s.replace(" ", "\n") for s in systems], fontsize=6)
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(axis="y", alpha=0.3)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    fig.suptitle(f"{d['dataset']}: metrics with 95 % bootstrap intervals", fontsize=10)
    fig.tight_layout()
    _save(fig, path)


def _label(key: str, label_of: dict) -> str:
    ar, en = label_of.get(key, ("", ""))
    return en or key


def plot_confusion(p: dict, path: Path, title: str) -> None:
    """The recognizer on the held-out recordings: rows true word, columns predicted word (row-normalized)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    classes = p["classes"]
    rows = sorted(set(p["real_y"].tolist()))
    cm = np.zeros((len(rows), len(classes)))
    for t, q in zip(p["real_y"], p["real_pred"]):
        cm[rows.index(t), q] += 1
    cm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    n = len(classes)
    fig, ax = plt.subplots(figsize=(min(12, 2 + 0.35 * n), min(10, 1.8 + 0.35 * len(rows))))
    im = ax.imshow(cm, cmap="Blues", vmin=0, vmax=1)
    names = [_label(c, p["label_of"]) for c in classes]
    ax.set_xticks(range(n), names, rotation=90, fontsize=7)
    ax.set_yticks(range(len(rows)), [names[r] for r in rows], fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true (held-out recording)")
    if len(rows) * n <= 400:
        for i in range(len(rows)):
            for j in range(n):
                if cm[i, j] >= 0.01:
                    ax.text(j, i, f"{cm[i, j]:.2f}", ha="center", va="center", fontsize=6,
                            color="white" if cm[i, j] > 0.5 else "black")
    fig.colorbar(im, ax=ax, fraction=0.03)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    _save(fig, path)


def plot_tsne(p: dict, path: Path, title: str, seed: int = 0) -> None:
    """t-SNE of the recognizer features: colour = word, marker = system."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.manifold import TSNE
    feats, words, which = [], [], []
    names = list(p["systems"])
    for k, name in enumerate(names):
        s = p["systems"][name]
        feats.append(s["features"])
        words += s["labels"].tolist()
        which += [k] * len(s["features"])
    X = np.concatenate(feats)
    emb = TSNE(n_components=2, perplexity=min(30, max(5, len(X) // 10)), random_state=seed, init="pca").fit_transform(X)
    words, which = np.asarray(words), np.asarray(which)
    fig, ax = plt.subplots(figsize=(7.5, 6))
    cmap = plt.get_cmap("tab20" if len(p["classes"]) > 10 else "tab10")
    markers = ["o", "s", "^", "D", "P", "X", "v", "*"]
    for k, name in enumerate(names):
        sel = which == k
        ax.scatter(emb[sel, 0], emb[sel, 1], c=[cmap(w % cmap.N) for w in words[sel]], marker=markers[k % len(markers)],
                   s=10 if name == "real held-out" else 28, alpha=0.5 if name == "real held-out" else 0.9,
                   edgecolors="black" if name != "real held-out" else "none", linewidths=0.3, label=name)
    leg = ax.legend(fontsize=7, loc="best", markerscale=1.2)
    for h in leg.legend_handles:
        h.set_facecolor("lightgray")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    _save(fig, path)


# -- video grid ------------------------------------------------------------------------------------------
def _normalized(seq):
    from syrisign.pose import PoseError
    try:
        return seq.normalize()
    except PoseError:  # no shoulders to measure: drawn as it is
        return seq


def video_grid(p: dict, out_dir: Path, name: str, words: int = 3, size: int = 192, seed: int = 0) -> dict:
    """For a few test words: a real held-out recording beside each system's first output of that
    word, side by side, the words one after another (mp4), and a PNG of each word's middle frame."""
    try:
        from render import side_by_side, write_video
    except ImportError:
        return {}
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(p["words"], size=min(words, len(p["words"])), replace=False).tolist())
    frames, stills = [], []
    fps = 12.5
    for w in chosen:
        real_i = p["test_keys"].index(w)
        panels = [("real held-out", p["test_seqs"][real_i])]
        for sname, s in p["systems"].items():
            if sname in BASELINES:  # the methods only
                continue
            sys_ = s["system"]
            idx = sys_.per_word.get(w)
            if idx:
                panels.append((sname, sys_.outputs[idx[0]]))
        # every panel in shoulder widths: recordings are in their source's units (a Kinect's metres), the
        # generated signs normalized, and the panels share one camera
        panels = [(f"{label} · {_label(w, p['label_of'])}", _normalized(seq).resample(fps)) for label, seq in panels]
        fr = side_by_side(panels, size=size, fps=fps)
        for i in range(len(fr)):
            frames.append(np.asarray(fr[i]))
        stills.append(np.asarray(fr[len(fr) // 2]))
    if not frames:
        return {}
    h = max(f.shape[0] for f in frames)
    w = max(f.shape[1] for f in frames)

    def pad(f):
        out = np.full((h, w, 3), 255, np.uint8)
        out[:f.shape[0], :f.shape[1]] = f
        return out

    media = {}
    mp4 = out_dir / f"{name}-grid.mp4"
    write_video([pad(f) for f in frames], mp4, fps=fps, crf=30)
    media["mp4"] = str(mp4)
    png = out_dir / f"{name}-grid.png"
    from PIL import Image
    img = Image.fromarray(np.concatenate([pad(s) for s in stills]))
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    atomic_write_bytes(png, buf.getvalue())
    media["png"] = str(png)
    media["words"] = chosen
    return media


# -- writing ----------------------------------------------------------------------------------------------
def write_report(report: dict, plots: dict, out_dir: Path, cfg) -> None:
    """Numbers first (JSON and markdown), then the figures and the video grid, then the numbers
    again with the media listed: a failing figure never loses the numbers."""
    from syrisign.evaluation.run import to_json

    def write_numbers():
        atomic_write_bytes(out_dir / "evaluation.json", (to_json(report) + "\n").encode("utf-8"))
        atomic_write_bytes(out_dir / "README.md", markdown(report).encode("utf-8"))

    out_dir.mkdir(parents=True, exist_ok=True)
    report.setdefault("media", {})
    write_numbers()
    for name, p in plots.items():
        d = report["datasets"][name]
        media = report["media"].setdefault(name, {})
        top1 = d["systems"]["real held-out"]["bt_top1"]["value"]
        jobs = [("metrics", lambda: plot_metrics(d, out_dir / f"{name}-metrics.png")),
                ("confusion", lambda: plot_confusion(p, out_dir / f"{name}-confusion.png",
                                                     f"{name}: recognizer on held-out recordings (top-1 {top1:.3f})")),
                ("tsne", lambda: plot_tsne(p, out_dir / f"{name}-tsne.png",
                                           f"{name}: t-SNE of recognizer features (colour = word)", cfg.seed))]
        if cfg.video:
            jobs.append(("grid", lambda: media.update(video_grid(p, out_dir, name, seed=cfg.seed))))
        for what, job in jobs:
            try:
                job()
            except Exception as e:  # noqa: BLE001 - a figure must never lose the numbers
                media[f"{what}_error"] = f"{type(e).__name__}: {e}"
                print(f"evaluate: the {what} figure of {name} failed: {e}")
    write_numbers()
