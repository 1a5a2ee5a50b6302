"""One signer: bone lengths, the active hand, fingerspelling timing and join jerk on news sentences, before
(every recording as it was signed) and now (retargeted onto one body, one dominant hand, fingerspelled words
as one movement); and whether retargeting keeps signs recognizable.

    SYRISIGN_HOME=... .venv/bin/python benchmarks/one_signer_bench.py [--sentences benchmarks/news/one_signer_ar.txt]
        [--judge] [--rate 2.5]

Per output (METRICS.md "Legibility and one signer"), on the landmarks `translate -o out.json` writes:

- bone-length variation: per segment (one per sign unit: a word, a number sign, a letter) the 95th
  percentile of each arm bone's 2-D length, then the coefficient of variation across the segments;
  reported as the median and the worst sentence, per bone;
- active-hand switches: per segment, the wrist that travels farther; switches inside fingerspelled words,
  and between consecutive segments where neither is a two-handed sign;
- fingerspelling: each fingerspelled word's frames over ``n / rate`` seconds, and the share of its frames
  between the first and the last letter's middle in which the dominant wrist is above its elbow;
- join jerk at every segment boundary (the dominant wrist's third derivative, ±5 frames; the dominant hand is
  the one signer's where one signs, else the wrist with the longer path), and the other hand's.

``--judge``: the back-translation recognizer of ``syrisign evaluate`` (trained on KArSL signer 01, trained
here if missing) classifies signer 03's held-out KArSL word recordings as recorded, retargeted onto the
default lexicon's reference body and the mean body, and with pose-anonymization's ``transfer_appearance``
onto a recording of the reference signer (``pip install pose-anonymization``).
"""
from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np

from syrisign.retarget import ARM_BONES, active_hands, bone_variation

HERE = Path(__file__).resolve().parent
STILL = 0.05  # shoulder widths: a wrist that travels less than this in a segment is holding still


def sentences(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]


def same_piece(a, b) -> bool:
    """Two consecutive units of one fingerspelled word (one movement): no join between them."""
    return a.item_index == b.item_index and a.kind in ("fingerspell", "substituted")


def measure(pipe, text: str, rate: float, debug: bool = False) -> dict:
    from syrisign.retarget import wrist_path
    from syrisign.stitch import dominant_wrist, join_jerk

    res = pipe.translate(text)
    out = res.outputs["retrieval"]
    seq = out.sequence
    segs = [(s.start_frame, s.end_frame) for s in out.segments]
    cv = bone_variation(seq, segs)
    units = out.units
    # a sign's active hand over its own frames: without the transitions into and out of it (they belong to
    # the joins, where the other hand of a two-handed neighbour may still be moving); a segment in which
    # neither wrist travels STILL shoulder widths in the signing space (a letter held still; a resting hand
    # settling at the waist is not signing) has no active hand of its own
    blend = int(round(0.2 * seq.fps))
    half_in, half_out = blend - blend // 2, blend // 2
    own = []
    for k, (a, b) in enumerate(segs):
        join_in = k > 0 and not same_piece(units[k - 1], units[k])
        join_out = k < len(segs) - 1 and not same_piece(units[k], units[k + 1])
        a2, b2 = a + (half_in if join_in else 0), b - (half_out if join_out else 0)
        own.append((a2, b2) if b2 - a2 >= 3 else (a, b))
    hands = active_hands(seq, own, still=STILL, raised_only=True)
    book = pipe.one_signer().book
    two = [bool(u.entry is not None and u.kind == "lexicon" and book.handedness(u.entry).two_handed) for u in units]
    inside, between, at_two = 0, 0, 0
    # a segment next to a two-handed sign: its other hand may still be settling from (or rising to) that sign
    near_two = [two[k] or (k > 0 and two[k - 1]) or (k + 1 < len(two) and two[k + 1]) for k in range(len(two))]
    prev = None  # the last segment with an active hand (held letters in between are skipped)
    for k in range(len(units)):
        if hands[k] is None:
            continue
        kp, prev = prev, k
        if kp is None or hands[k] == hands[kp]:
            continue
        if near_two[k] or near_two[kp]:
            at_two += 1
            continue
        if units[k].item_index == units[kp].item_index and units[k].kind in ("fingerspell", "substituted"):
            inside += 1
            if debug:
                print("switch inside", text, units[kp].text_ar, units[k].text_ar, own[kp], own[k])
        else:
            between += 1
            if debug:
                print("switch between", text, units[kp].text_ar, units[k].text_ar, hands[kp], hands[k])
    timing, above = [], []
    # the output's dominant hand where one signer signs it (a hand held still at the fingerspelling place can
    # travel less over a sentence than the other hand does in a two-handed sign); else the one that travels more
    dom = dominant_wrist(seq) if pipe.as_recorded else pipe.one_signer().hand
    elbow = seq.skeleton.index[f"pose.{dom.upper()}_ELBOW"]
    wrist = wrist_path(seq, dom)
    for idx in sorted({u.item_index for u in units if u.kind in ("fingerspell", "substituted")}):
        ks = [k for k, u in enumerate(units) if u.item_index == idx]
        a, b = out.segments[ks[0]].start_frame, out.segments[ks[-1]].end_frame
        n = len(ks)
        timing.append((b - a) / seq.fps / (n / rate))
        if n >= 2:
            m0 = (out.segments[ks[0]].start_frame + out.segments[ks[0]].end_frame) // 2
            m1 = (out.segments[ks[-1]].start_frame + out.segments[ks[-1]].end_frame) // 2
            w, e = wrist[m0:m1 + 1, 1], seq.data[m0:m1 + 1, elbow, 1]
            ok = ~np.isnan(w) & (seq.confidence[m0:m1 + 1, elbow] > 0)
            if ok.any():
                above.append(float((w[ok] < e[ok]).mean()))
    jerk = join_jerk(seq, [s for s, _ in segs[1:]], side=dom)
    jerk_other = join_jerk(seq, [s for s, _ in segs[1:]], side="left" if dom == "right" else "right")
    return {"cv": cv, "inside": inside, "between": between, "at_two": at_two, "timing": timing, "above": above, "jerk": jerk,
            "jerk_other": jerk_other,
            "frames": len(seq), "coverage": res.plan.coverage}


def table(rows: dict[str, list[dict]]) -> None:
    print("| measure | before (as recorded) | now (one signer) |\n| --- | --- | --- |")
    for bone in ARM_BONES:
        cells = []
        for which in ("before", "now"):
            v = [r["cv"][bone] for r in rows[which] if bone in r["cv"]]
            cells.append(f"median {statistics.median(v):.3f}, worst {max(v):.3f}" if v else "-")
        print(f"| CV of {bone} (95th-pct 2-D length per segment) | {cells[0]} | {cells[1]} |")
    for key, name in (("inside", "active-hand switches inside fingerspelled words"),
                      ("between", "active-hand switches between one-handed signs"),
                      ("at_two", "active-hand switches at a two-handed sign (allowed)")):
        print(f"| {name} (total over the sentences) | {sum(r[key] for r in rows['before'])} | "
              f"{sum(r[key] for r in rows['now'])} |")
    for which_label, key in (("fingerspelled word duration / (n / rate)", "timing"),):
        cells = []
        for which in ("before", "now"):
            v = [x for r in rows[which] for x in r[key]]
            within = np.mean([0.8 <= x <= 1.2 for x in v]) if v else float("nan")
            cells.append(f"median {statistics.median(v):.2f} (range {min(v):.2f}-{max(v):.2f}; {100 * within:.0f} % "
                         f"within 20 %; {len(v)} words)" if v else "-")
        print(f"| {which_label} | {cells[0]} | {cells[1]} |")
    cells = []
    for which in ("before", "now"):
        v = [x for r in rows[which] for x in r["above"]]
        cells.append(f"mean {np.mean(v):.2f}, lowest {min(v):.2f}" if v else "-")
    print(f"| share of frames between a word's letters with the wrist above the elbow | {cells[0]} | {cells[1]} |")
    cells = [f"{np.nanmean([r['jerk'] for r in rows[w]]):.0f}" for w in ("before", "now")]
    print(f"| join jerk at segment boundaries (mean over sentences) | {cells[0]} | {cells[1]} |")
    cells = [f"{np.nanmean([r['jerk_other'] for r in rows[w]]):.0f}" for w in ("before", "now")]
    print(f"| join jerk of the other hand (mean over sentences) | {cells[0]} | {cells[1]} |")
    cells = [f"{np.mean([r['frames'] for r in rows[w]]) / 25:.1f} s" for w in ("before", "now")]
    print(f"| video length (mean) | {cells[0]} | {cells[1]} |")
    worst = {bone: sum(r["cv"].get(bone, 0) > 0.05 for r in rows["now"]) for bone in ARM_BONES}
    print("\nsentences with a CV over 0.05 now: " + ", ".join(f"{b} {n}" for b, n in worst.items())
          + f" (of {len(rows['now'])})")


def natural_variation(trials: int = 40, words: int = 6, seed: int = 0) -> None:
    """The same measure on one real signer: KArSL recordings of one signer, ``words`` random word recordings
    a time, each recording one segment (no retargeting needed: one person, one camera)."""
    import random

    from syrisign.data.dataset import Dataset
    from syrisign.pose import stack_frames
    from syrisign.settings import get_settings

    path = get_settings().dataset("karsl-words")
    if not (path / "manifest.csv").is_file():
        print("\n(one real signer: build karsl-words first)")
        return
    ds = Dataset(path)
    rng = random.Random(seed)
    print(f"\nOne real signer as recorded (KArSL word recordings, {words} random ones a time, {trials} times; "
          "median CV):\n\n| signer | " + " | ".join(ARM_BONES) + " |\n| --- |" + " --- |" * len(ARM_BONES))
    for signer in sorted({s.signer for s in ds.samples}):
        samples = [s for s in ds.samples if s.signer == signer]
        cvs: dict[str, list[float]] = {b: [] for b in ARM_BONES}
        for _ in range(trials):
            seqs = [ds.load(s).resample(25).normalize() for s in rng.sample(samples, words)]
            seq = stack_frames(seqs)
            bounds = np.cumsum([0] + [len(q) for q in seqs])
            for bone, v in bone_variation(seq, list(zip(bounds[:-1], bounds[1:]))).items():
                cvs[bone].append(v)
        print(f"| {signer} | " + " | ".join(f"{statistics.median(v):.3f}" if v else "-" for v in cvs.values()) + " |")


def judge_table() -> None:
    from syrisign.data import ensure_dataset
    from syrisign.evaluation.recognizer import accuracy, ensure_recognizer
    from syrisign.evaluation.splits import evaluation_split
    from syrisign.lexicon import load_lexicon
    from syrisign.retarget import measure_body, retarget
    from syrisign.signers import SignerBook

    ds = ensure_dataset("karsl-words")
    split = evaluation_split(ds, "karsl-words", "signer")
    rec, _ = ensure_recognizer(ds, split)
    lex = load_lexicon(None)
    book = SignerBook(lex)
    ref, mean = book.target("reference"), book.target("mean")
    test = [s for s in split.test if s.class_key in set(rec.classes)]
    seqs = [ds.load(s).reduce("holistic543", missing="zero").normalize() for s in test]
    source = measure_body(seqs, "karsl 03 (held out)").plausible()
    index = {c: i for i, c in enumerate(rec.classes)}
    y = np.array([index[s.class_key] for s in test])

    def top1(items) -> float:
        out = rec.run(items)
        return float((out.logits.argmax(1) == y).mean())

    rows = [("as recorded", top1(seqs)),
            (f"retargeted onto the reference body ({ref.name}), joint directions kept",
             top1([retarget(q, source, ref, arms="kept") for q in seqs])),
            (f"retargeted onto the reference body ({ref.name}), arms in the image plane (what is drawn)",
             top1([retarget(q, source, ref) for q in seqs])),
            ("retargeted onto the mean body", top1([retarget(q, source, mean) for q in seqs]))]
    try:
        from pose_anonymization.appearance import transfer_appearance
        from syrisign.pose import PoseSequence

        donor = next(e for e in lex.entries if (e.signer or "") == ref.name and e.kind == "word")
        appearance = lex.pose(donor).reduce("holistic543", missing="zero").to_pose_format()
        moved = [PoseSequence.from_pose_format(transfer_appearance(q.to_pose_format(), appearance)) for q in seqs]
        rows.append((f"pose-anonymization transfer_appearance onto {donor.id}", top1(moved)))
    except ImportError:
        rows.append(("pose-anonymization transfer_appearance", float("nan")))
    print(f"\nBack-translation top-1 on signer 03's held-out KArSL recordings (n={len(test)}; judge trained on "
          f"signer 01)\n\n| input | top-1 |\n| --- | --- |")
    for name, v in rows:
        print(f"| {name} | {v:.3f} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sentences", type=Path, default=HERE / "news" / "one_signer_ar.txt")
    ap.add_argument("--rate", type=float, default=2.5)
    ap.add_argument("--judge", action="store_true", help="also the recognizability of retargeted recordings")
    ap.add_argument("--no-sentences", action="store_true")
    args = ap.parse_args()
    if not args.no_sentences:
        from syrisign.lexicon import load_lexicon
        from syrisign.pipeline import Pipeline

        lex = load_lexicon(None)
        pipes = {"before": Pipeline(lexicon=lex, fuzzy=False, progress=False, as_recorded=True),
                 "now": Pipeline(lexicon=lex, fuzzy=False, progress=False, fingerspell_rate=args.rate)}
        texts = sentences(args.sentences)
        rows = {k: [measure(p, t, args.rate) for t in texts] for k, p in pipes.items()}
        print(f"{len(texts)} sentences of {args.sentences.name}; reference signer "
              f"{pipes['now'].one_signer().name}; rate {args.rate:g} letters/s\n")
        table(rows)
        natural_variation()
    if args.judge:
        judge_table()


if __name__ == "__main__":
    main()
