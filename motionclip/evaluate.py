"""Evaluate a MotionCLIP checkpoint on its held-out signers (METRICS.md).

``python -m motionclip.evaluate --checkpoint karsl-words`` prints and writes (``--out``):

- reconstruction MPJPE (shoulder widths) of the held-out recordings, at ``--eval-fps``;
- retrieval among the held-out classes' texts: text->motion P@1/P@5, R@1/R@5 (a correct motion
  among the top k) and motion->text R@1/R@5, MedianR, for the trained model and for an untrained
  model of the same configuration (what the alignment adds);
- DTW-MJE of the signs generated from each held-out class's text against every held-out
  recording of that class, for both text->latent maps (``direct``, ``mlp``), beside baselines
  measured in the same run on the training signers' recordings: the nearest recording of the
  same word (oracle), an average recording of the same word (what retrieval returns), the
  time-normalized class mean sequence, the global mean pose, and the autoencoder's own
  reconstruction of the reference; and, as a diagnostic, the decoded mean training latent of the
  word (what a perfect text->latent map of a seen word would decode).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from syrisign.evaluation.metrics import mean_pose_sequence

MEDIAPIPE_LAYOUTS = ("syrisign193", "signclip203", "upper65", "holistic543", "holistic586")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", default="karsl-words", help="checkpoint path or dataset name (default karsl-words)")
    p.add_argument("--dataset", default=None, help="dataset to test on (default: the checkpoint's)")
    p.add_argument("--eval-fps", type=float, default=25.0, help="frame rate of the references (default 25)")
    p.add_argument("--max-train-per-class", type=int, default=0,
                   help="cap on training recordings per class for the nearest/average baselines (0 = all)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = automatic)")
    p.add_argument("--out", default=None, help="write the results as JSON here")
    p.add_argument("--no-progress", action="store_true")


# -- helpers -------------------------------------------------------------------------------------
def retrieval_scores(sim: np.ndarray, gold: np.ndarray) -> dict:
    """``sim (N motions, C texts)``, ``gold (N,)`` class index per motion -> METRICS.md retrieval scores."""
    n, c = sim.shape
    order = np.argsort(-sim, axis=1, kind="stable")
    rank_m2t = np.array([int(np.flatnonzero(order[i] == gold[i])[0]) + 1 for i in range(n)])
    out = {"m2t_r1": float((rank_m2t <= 1).mean()), "m2t_r5": float((rank_m2t <= 5).mean()),
           "m2t_median_rank": float(np.median(rank_m2t)), "classes": int(c), "chance_r1": 1.0 / c}
    p1, p5, r1, r5, first = [], [], [], [], []
    for k in range(c):
        if not (gold == k).any():
            continue
        o = np.argsort(-sim[:, k], kind="stable")
        hit = gold[o] == k
        p1.append(hit[:1].mean())
        p5.append(hit[:5].mean())
        r1.append(float(hit[:1].any()))
        r5.append(float(hit[:5].any()))
        first.append(int(np.flatnonzero(hit)[0]) + 1)
    out.update(t2m_p1=float(np.mean(p1)), t2m_p5=float(np.mean(p5)), t2m_r1=float(np.mean(r1)),
               t2m_r5=float(np.mean(r5)), t2m_median_rank=float(np.median(first)))
    return out


def _component_mpjpe(sums: dict, counts: dict) -> dict:
    return {k: sums[k] / max(1, counts[k]) for k in sums}


# -- evaluation ------------------------------------------------------------------------------------
def evaluate(checkpoint: str = "karsl-words", dataset: str | None = None, eval_fps: float = 25.0,
             max_train_per_class: int = 0, device: str = "cpu", progress: bool = True) -> dict:
    import torch
    from tqdm import tqdm

    from motionclip.data import apply_keep, load_arrays, make_split, open_dataset
    from motionclip.metrics import dtw_mje
    from motionclip.model import MotionCLIP, load_model
    from motionclip.producer import resolve_checkpoint
    from motionclip.train import encode_arrays
    from syrisign.ml.features import FeatureConfig
    from syrisign.ml.text import get_text_encoder
    from syrisign.skeletons import get_skeleton

    t0 = time.perf_counter()
    path = resolve_checkpoint(checkpoint)
    model, ckpt = load_model(path, device)
    dev = next(model.parameters()).device
    fcfg = FeatureConfig(**ckpt["features"])
    ecfg = FeatureConfig(layout=fcfg.layout, fps=eval_fps, max_frames=100000, trim_idle=fcfg.trim_idle)
    sp = ckpt.get("split", {})
    ds = open_dataset(dataset or ckpt["dataset"])
    split = make_split(ds, sp.get("test_signers") or "none", sp.get("val_frac", 0.1), sp.get("seed", 0))
    bank = ckpt.get("class_bank") or {}
    test_s = [s for s in split.test if s.class_key in set(bank.get("keys", []))]
    if not test_s:
        from syrisign.errors import SyriSignError
        raise SyriSignError(f"{path} has no held-out recordings of its training classes to evaluate on")
    test_m, test_s = load_arrays(ds, test_s, fcfg, progress, "test poses (model fps)")
    test_e, _ = load_arrays(ds, test_s, ecfg, progress, "test poses (eval fps)")
    train_e, train_s = load_arrays(ds, split.train, ecfg, progress, "train poses (eval fps)")
    skel = get_skeleton(fcfg.layout)
    keep = np.asarray(ckpt.get("keep_joints") or [True] * skel.num_joints, dtype=bool)
    test_m, test_e, train_e = apply_keep(test_m, keep), apply_keep(test_e, keep), apply_keep(train_e, keep)
    # DTW-MJE and the compared MPJPE use the shared evaluation's joints: the face-less upper65 joints of
    # MediaPipe layouts (as syrisign.evaluation does), every kept joint otherwise
    cmp_layout = "upper65" if skel.name in MEDIAPIPE_LAYOUTS else skel.name
    cmp = np.asarray([skel.index[j] for j in get_skeleton(cmp_layout).joints])

    res: dict = {"checkpoint": str(path), "dataset": ds.root.name, "layout": fcfg.layout, "model_fps": fcfg.fps,
                 "joints_scored": int(keep.sum()), "compared_layout": cmp_layout, "compared_joints": int(len(cmp)),
                 "eval_fps": eval_fps, "test_signers": split.test_signers, "n_test": len(test_s),
                 "n_train": len(train_s), "config": ckpt["config"], "train_result": ckpt.get("result")}

    # reconstruction: encode at the model fps, decode straight at the eval fps (the decoder is phase-based)
    lat = encode_arrays(model, test_m)  # (N, D)
    comps = {name: np.arange(sl.start, sl.stop) for name, sl in skel.slices.items()}
    sums, counts = defaultdict(float), defaultdict(int)
    recon_seqs = []
    with torch.no_grad():
        for i in range(0, len(test_e), 64):
            chunk = test_e[i:i + 64]
            y = model.decode(torch.as_tensor(lat[i:i + 64], device=dev),
                             torch.as_tensor([len(x) for x, _ in chunk], device=dev)).cpu().numpy()
            for (x, m), yy in zip(chunk, y):
                yy = yy[:len(x)].reshape(len(x), -1, 3)
                recon_seqs.append(yy)
                err = np.linalg.norm(yy - x, axis=-1)
                sums["all"] += float(err[m].sum())
                counts["all"] += int(m.sum())
                sums["compared"] += float(err[:, cmp][m[:, cmp]].sum())
                counts["compared"] += int(m[:, cmp].sum())
                for name, idx in comps.items():
                    sums[name] += float(err[:, idx][m[:, idx]].sum())
                    counts[name] += int(m[:, idx].sum())
    res["mpjpe"] = _component_mpjpe(sums, counts)

    # retrieval among the held-out classes' texts
    keys = sorted({s.class_key for s in test_s})
    ki = {k: bank["keys"].index(k) for k in keys}
    texts = [bank["text"][ki[k]] for k in keys]
    enc = get_text_encoder(ckpt.get("text_encoder", "use"))
    temb = torch.as_tensor(enc.encode(texts), device=dev)
    gold = np.array([keys.index(s.class_key) for s in test_s])
    with torch.no_grad():
        sim = model.text_similarity(torch.as_tensor(lat, device=dev), temb).cpu().numpy()
    res["retrieval"] = retrieval_scores(sim, gold)
    torch.manual_seed(0)
    untrained = MotionCLIP(model.cfg).to(dev).eval()
    untrained.set_stats(model.mean, model.std)
    with torch.no_grad():
        sim0 = untrained.text_similarity(torch.as_tensor(encode_arrays(untrained, test_m), device=dev), temb)
    res["retrieval_untrained"] = retrieval_scores(sim0.cpu().numpy(), gold)

    # generation against the held-out recordings, beside baselines
    ratio = eval_fps / fcfg.fps
    gen: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {"direct": {}, "mlp": {}}
    with torch.no_grad():
        for mode in gen:
            if mode == "direct" and model.cfg.latent_dim != model.cfg.text_dim:
                continue
            zl = model.encode_text(temb, mode)
            lens = [max(2, int(round(bank["length"][ki[k]] * ratio))) for k in keys]
            y = model.decode(zl, torch.as_tensor(lens, device=dev)).cpu().numpy()
            for k, yy, n in zip(keys, y, lens):
                gen[mode][k] = (yy[:n].reshape(n, -1, 3), np.repeat(keep[None], n, 0))
        # diagnostic: the class's mean training latent decoded (the best a text->latent map could aim at)
        zl = torch.as_tensor(np.asarray(bank["latent"], np.float32)[[ki[k] for k in keys]], device=dev)
        y = model.decode(zl, torch.as_tensor(lens, device=dev)).cpu().numpy()
        gen["class_latent"] = {k: (yy[:n].reshape(n, -1, 3), np.repeat(keep[None], n, 0))
                               for k, yy, n in zip(keys, y, lens)}
    gen = {k: v for k, v in gen.items() if v}
    train_by: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(train_s):
        train_by[s.class_key].append(i)
    if max_train_per_class:
        rng = np.random.default_rng(0)
        train_by = {k: sorted(rng.choice(v, min(len(v), max_train_per_class), replace=False).tolist())
                    for k, v in train_by.items()}
    all_x = np.concatenate([x[m.any(-1)] for x, m in train_e])  # frames, for the global mean pose
    all_m = np.concatenate([m[m.any(-1)] for _, m in train_e])
    mean_pose = (all_x * all_m[..., None]).sum(0) / np.maximum(all_m.sum(0), 1)[..., None]  # (J, 3)
    class_mean = {k: mean_pose_sequence([train_e[i] for i in train_by[k]],
                                        max(2, int(round(bank["length"][ki[k]] * ratio)))) for k in keys}
    def dtw_c(h, r, hm, rm):
        return dtw_mje(h[:, cmp], r[:, cmp], None if hm is None else hm[:, cmp], rm[:, cmp])

    dtw: dict[str, list[float]] = defaultdict(list)
    for j, (s, (x, m)) in enumerate(tqdm(list(zip(test_s, test_e)), desc="DTW-MJE", disable=not progress,
                                         leave=False)):
        k = s.class_key
        for mode, g in gen.items():
            dtw[f"motionclip_{mode}"].append(dtw_c(g[k][0], x, g[k][1], m))
        per = [dtw_c(train_e[i][0], x, train_e[i][1], m) for i in train_by[k]]
        dtw["nearest_train_recording"].append(min(per))
        dtw["average_train_recording"].append(float(np.mean(per)))
        cm, cmm = class_mean[k]
        dtw["class_mean_sequence"].append(dtw_c(cm, x, cmm, m))
        n = len(cm)
        dtw["mean_pose"].append(dtw_c(np.repeat(mean_pose[None], n, 0), x, np.repeat(keep[None], n, 0), m))
        dtw["reconstruction"].append(dtw_c(recon_seqs[j], x, np.repeat(keep[None], len(x), 0), m))
    res["dtw_mje"] = {k: float(np.nanmean(v)) for k, v in dtw.items()}
    res["dtw_mje_std"] = {k: float(np.nanstd(v)) for k, v in dtw.items()}
    res["seconds"] = round(time.perf_counter() - t0, 1)
    return res


def markdown(res: dict) -> str:
    """The results as the rows of the shared results table."""
    r, r0, d = res["retrieval"], res["retrieval_untrained"], res["dtw_mje"]
    head = ("| dataset | method | MPJPE | T2M R@1 | T2M R@5 | M2T R@1 | M2T R@5 | DTW-MJE |\n"
            "|---|---|---|---|---|---|---|---|")
    ds = res["dataset"]
    rows = []
    for mode in ("direct", "mlp", "class_latent"):
        if f"motionclip_{mode}" in d:
            name = "mean training latent of the word, decoded" if mode == "class_latent" else mode
            rows.append(f"| {ds} | MotionCLIP generation ({name}) | {res['mpjpe']['compared']:.3f} | {r['t2m_r1']:.3f} | "
                        f"{r['t2m_r5']:.3f} | {r['m2t_r1']:.3f} | {r['m2t_r5']:.3f} | {d[f'motionclip_{mode}']:.3f} |")
    rows.append(f"| {ds} | MotionCLIP untrained (retrieval) | | {r0['t2m_r1']:.3f} | {r0['t2m_r5']:.3f} | "
                f"{r0['m2t_r1']:.3f} | {r0['m2t_r5']:.3f} | |")
    for k, name in (("reconstruction", "MotionCLIP reconstruction of the reference"),
                    ("nearest_train_recording", "nearest training recording (oracle)"),
                    ("average_train_recording", "a training recording of the word (average)"),
                    ("class_mean_sequence", "class mean sequence"), ("mean_pose", "mean pose")):
        rows.append(f"| {ds} | {name} | | | | | | {d[k]:.3f} |")
    return "\n".join([head] + rows)


def main(args: argparse.Namespace) -> int:
    import torch

    from motionclip.train import auto_threads
    torch.set_num_threads(auto_threads(args.threads))
    res = evaluate(args.checkpoint, args.dataset, args.eval_fps, args.max_train_per_class, args.device,
                   not args.no_progress)
    text = json.dumps(res, ensure_ascii=False, indent=1)
    if args.out:
        from syrisign.pose import atomic_write_bytes
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(args.out, (text + "\n").encode("utf-8"))
    print(text)
    print(markdown(res))
    return 0


def cli(argv: list[str] | None = None) -> int:
    from syrisign.errors import SyriSignError
    p = argparse.ArgumentParser(prog="python -m motionclip.evaluate", description=__doc__.splitlines()[0])
    add_arguments(p)
    args = p.parse_args(argv)
    try:
        return main(args)
    except SyriSignError as e:
        print(f"motionclip.evaluate: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(cli())
