"""The compared methods as the evaluation sees them: checkpoints (trained when missing) and one
set of outputs per word.

- ``retrieval``: for a word, the training recordings (the held-in signers' recordings, i.e. the
  lexicon) ranked by the retrieval model's text→pose similarity; the outputs are the top
  ``samples`` (the first is what ``syrisign search`` picks). A wrong-class pick counts against it.
- ``generative`` (T2M-GPT) and ``motionclip``: generated from the word's text through the
  producer interface (``load_producer(name).produce(units)``); T2M-GPT is sampled with
  ``samples`` different seeds, MotionCLIP is deterministic (one output per word).

Checkpoints are looked up where each family's trainer writes them for the evaluation split
(KArSL words: train signer 01, test 03; ISL: test apurve and rajat); a missing one is trained by
calling that family's ``main(args)`` with its defaults plus the time budget given here (the
"fast" configuration when ``fast`` is set), and the time is recorded.
"""
from __future__ import annotations

import argparse
import importlib
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from syrisign.errors import SyriSignError
from syrisign.pose import PoseSequence

METHODS = ("retrieval", "generative", "motionclip")


class MethodUnavailable(SyriSignError):
    pass


@dataclass
class MethodOutputs:
    name: str
    outputs: dict[str, list[PoseSequence]]  # class key -> outputs, best/first first
    info: dict = field(default_factory=dict)


# -- checkpoints ------------------------------------------------------------------------------------
def checkpoint_path(method: str, dataset: str) -> Path:
    from syrisign.settings import get_settings
    ck = get_settings().checkpoints
    if method == "generative":
        return ck / f"t2m-{dataset}.pt"
    if method == "motionclip":
        return ck / f"motionclip-{dataset}.pt"
    if method == "retrieval":
        return ck / ("retrieval-karsl-words-01to03.pt" if dataset == "karsl-words" else f"retrieval-{dataset}.pt")
    raise MethodUnavailable(f"unknown method {method!r}; choose from {', '.join(METHODS)}")


def train_recipe(method: str, dataset: str, minutes: float | None, threads: int = 0) -> list[tuple[str, list[str]]]:
    """``[(trainer module, argv)]`` that builds the method's checkpoint for ``dataset``.

    ``minutes`` caps each training's time budget (the faster configuration); None keeps the
    family's defaults. ``threads`` (when set) is passed on: on a busy 2-core machine one torch
    thread trains several times faster than two spinning ones.
    """
    budget = (["--max-minutes", f"{minutes:g}"] if minutes else []) + (["--threads", str(threads)] if threads else [])
    if method == "generative":
        return [("vqvae.train", ["--dataset", dataset] + budget), ("t2m_gpt.train", ["--dataset", dataset] + budget)]
    if method == "motionclip":
        return [("motionclip.train", ["--dataset", dataset] + budget)]
    if method == "retrieval":
        proto = ["--protocol", "karsl-01to03"] if dataset == "karsl-words" else []
        return [("retrieval.train", ["--dataset", dataset] + proto + budget)]
    raise MethodUnavailable(f"unknown method {method!r}")


def _run_trainer(module: str, argv: list[str]) -> float:
    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        raise MethodUnavailable(f"{module} is not available: {e}") from None
    parser = argparse.ArgumentParser(prog=f"syrisign train ({module})")
    mod.add_arguments(parser)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    print(f"evaluate: training {module} {' '.join(argv)}", flush=True)
    rc = mod.main(args)
    if rc not in (0, None):
        raise MethodUnavailable(f"{module} {' '.join(argv)} exited with {rc}")
    return time.perf_counter() - t0


def ensure_checkpoint(method: str, dataset: str, train_missing: bool = True, minutes: float | None = None,
                      threads: int = 0) -> dict:
    """The method's checkpoint for ``dataset``: ``{"checkpoint", "trained_seconds", "trained"}``."""
    path = checkpoint_path(method, dataset)
    info = {"checkpoint": str(path), "trained": [], "trained_seconds": 0.0}
    if method == "generative":  # the GPT needs its VQ-VAE; both are trained when the GPT is missing
        needed = [("vqvae", path.with_name(f"vqvae-{dataset}.pt")), ("t2m", path)]
    else:
        needed = [(method, path)]
    recipe = train_recipe(method, dataset, minutes, threads)
    for (name, p), (module, argv) in zip(needed, recipe):
        if p.is_file():
            continue
        if not train_missing:
            raise MethodUnavailable(f"no {method} checkpoint at {p}; train it with "
                                    f"`syrisign train {name} {' '.join(argv)}` or drop --no-train")
        secs = _run_trainer(module, argv)
        if not p.is_file():
            raise MethodUnavailable(f"training {module} did not write {p}")
        info["trained"].append({"module": module, "argv": argv, "seconds": round(secs, 1)})
        info["trained_seconds"] += secs
    info["training_split"] = training_split(path)
    return info


def training_split(path: Path) -> dict:
    """What a checkpoint says about the data it was trained on (held-out signers, protocol, counts)."""
    try:
        from syrisign.ml.checkpoint import load_checkpoint
        ck = load_checkpoint(path)
    except Exception as e:  # noqa: BLE001 - only informative
        return {"error": str(e)}
    split = ck.get("split")
    if isinstance(split, dict):
        return {k: v for k, v in split.items() if k in ("dataset", "test_signers", "counts", "val_frac", "seed")}
    run = ck.get("run") or {}
    if isinstance(run, dict) and ("protocol" in run or "test_signers" in run):
        return {k: run.get(k) for k in ("datasets", "protocol", "test_signers", "val_fraction", "seed")}
    return {"description": str(split)} if split else {}


def split_mismatch(training: dict, test_signers: list[str], dataset: str) -> str:
    """A warning when a model was trained with other held-out signers than the evaluation's."""
    if not training or "error" in training:
        return ""
    if training.get("protocol") == "karsl-01to03" and dataset == "karsl-words" and test_signers == ["03"]:
        return ""
    ts = training.get("test_signers")
    if isinstance(ts, list) and ts and sorted(ts) != sorted(test_signers):
        return (f"trained with held-out signers {sorted(ts)}, evaluated on {sorted(test_signers)}: "
                "its training may have seen the test recordings")
    return ""


# -- outputs ----------------------------------------------------------------------------------------
def _units(ds, classes: list[str]):
    from syrisign.producers import SignUnit
    labels = ds.label_of()
    return [SignUnit(text_ar=labels[c][0] or labels[c][1], text_en=labels[c][1] or labels[c][0],
                     meta={"class_key": c}) for c in classes]


def generated_outputs(method: str, info: dict, ds, classes: list[str], samples: int, seed: int,
                      candidates: int | None = None, split=None, select: str | None = None) -> MethodOutputs:
    """Outputs of a generative producer: ``samples`` seeds when it samples, one when deterministic.

    T2M-GPT: each output is the best of ``candidates`` samples (None: the producer's default) by the
    text-pose similarity of the dataset's evaluation retrieval checkpoint (:mod:`t2m_gpt.rerank`), which
    must hold out the same signers as the ``split``; without that checkpoint, the first sample. ``select``:
    how the candidates become one output (:data:`t2m_gpt.rerank.SELECT`; None: the producer's default)."""
    from syrisign.producers import load_producer
    opts = {"candidates": 1} if method == "generative" and candidates == 1 else {}
    if method == "generative" and candidates != 1:
        ranker = checkpoint_path("retrieval", split.dataset)
        if ranker.is_file():
            warn = split_mismatch(training_split(ranker), split.test_signers, split.dataset)
            if warn:
                raise MethodUnavailable(f"the reranker {ranker.name} was {warn}")
            opts = {"candidates": candidates, "reranker": ranker}
        elif candidates is not None:
            raise MethodUnavailable(f"no retrieval model at {ranker} to rank {candidates} candidates with")
        else:
            opts = {"candidates": 1}
            info = dict(info, note=f"one sample per output: no retrieval model at {ranker} to rank samples with")
    if method == "generative" and select is not None:
        opts["select"] = select
    prod = load_producer(method, checkpoint=info["checkpoint"], seed=seed, **opts)
    if method == "generative":
        ranker = getattr(prod, "reranker", None)
        info = dict(info, candidates=getattr(prod, "candidates", 1), select=getattr(prod, "select", None),
                    reranker=str(ranker.path) if ranker is not None else None)
    units = _units(ds, classes)
    out: dict[str, list[PoseSequence]] = {c: [] for c in classes}
    t0 = time.perf_counter()
    stochastic = hasattr(prod, "seed") and method == "generative"
    for k in range(samples if stochastic else 1):
        if stochastic:
            prod.seed = seed + k  # the producer seeds each unit from its seed and the unit's text
        for c, s in zip(classes, prod.produce(units)):
            s.meta.setdefault("class_key", c)
            out[c].append(s)
    info = dict(info, produce_seconds=round(time.perf_counter() - t0, 2),
                samples_per_word=samples if stochastic else 1, deterministic=not stochastic)
    return MethodOutputs(method, out, info)


def retrieval_outputs(info: dict, ds, candidates: list, classes: list[str], samples: int) -> MethodOutputs:
    """Per word: the word of its best candidate recording by the retrieval model's text→pose
    similarity (what ``syrisign search`` picks; a wrong word counts against it), and as outputs the
    ``samples`` most typical recordings of that word (:func:`retrieval.producer.typicality_order`)."""
    import torch

    from retrieval.model import load_model
    from retrieval.producer import typicality_order
    from syrisign.ml.features import collate, prepare

    t0 = time.perf_counter()
    lm = load_model(info["checkpoint"])
    model, feat = lm.model, lm.config.features()
    seqs = [ds.load(s) for s in candidates]
    arrays = [prepare(s, feat) for s in seqs]
    with torch.no_grad():
        pose = np.concatenate([model.encode_pose(*collate(arrays[i:i + 64])).numpy()
                               for i in range(0, len(arrays), 64)])
        labels = ds.label_of()
        lang = {s.class_key: s.signed_language for s in ds.samples}
        texts = [model.prompt(labels[c][0], labels[c][1], lang[c]) for c in classes]
        text = model.encode_text(texts, [lang[c] for c in classes]).numpy()
    sim = text @ pose.T  # (C, N)
    joints = model.joint_idx.numpy()
    typical: dict[str, list[int]] = {}  # word -> its candidate recordings, most typical first
    out, picks, chosen = {}, {}, {}
    for i, c in enumerate(classes):
        word = chosen[c] = candidates[int(np.argmax(sim[i]))].class_key
        if word not in typical:
            members = [j for j, s in enumerate(candidates) if s.class_key == word]
            order = typicality_order([(arrays[j][0][:, joints], arrays[j][1][:, joints]) for j in members])
            typical[word] = [members[k] for k in order]
        out[c] = []
        for j in typical[word][:samples]:
            s = seqs[j]
            s.meta.update(class_key=candidates[j].class_key, id=candidates[j].id, source="retrieval")
            out[c].append(s)
        picks[c] = [candidates[j].id for j in typical[word][:samples]]
    top1 = float(np.mean([chosen[c] == c for c in classes]))
    info = dict(info, produce_seconds=round(time.perf_counter() - t0, 2), samples_per_word=samples,
                deterministic=True, top1_pick_correct=top1, candidates=len(candidates), picks=picks,
                choice="word: best text→pose recording; outputs: that word's most typical recordings")
    return MethodOutputs("retrieval", out, info)


def method_outputs(method: str, info: dict, ds, split, classes: list[str], samples: int, seed: int,
                   candidates: int | None = None, select: str | None = None) -> MethodOutputs:
    if method == "retrieval":
        return retrieval_outputs(info, ds, split.train + split.val, classes, samples)
    return generated_outputs(method, info, ds, classes, samples, seed, candidates, split, select)
