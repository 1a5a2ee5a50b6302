"""Text to signed skeleton: plan → produce → stitch → (render), by one or several methods.

    pipe = Pipeline()                      # loads the lexicon and translator once
    result = pipe.translate("وزارة الصحة", methods=["retrieval"])
    pipe.write(result, "out.mp4")

Methods are producers loaded by name (:mod:`syrisign.producers`): ``retrieval`` plays the
lexicon's recordings; ``generative`` (T2M-GPT) and ``motionclip`` generate each sign from its
text. Every method is stitched the same way (:func:`syrisign.stitch.stitch`), so the outputs
differ only in where the signs come from.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from syrisign.errors import SyriSignError
from syrisign.pose import PoseSequence
from syrisign.producers import SignUnit, available_producers, load_producer

METHOD_TITLES = {"retrieval": "retrieval (recorded signs)", "generative": "generative (T2M-GPT)",
                 "motionclip": "MotionCLIP"}
FORMATS = ("mp4", "gif", "png", "pose", "npz", "json")
LAYOUTS = ("square", "portrait")
MAX_VIDEO_SIZE = 1080  # frame width (a portrait frame is 1080 x 1920)
MIN_VIDEO_SIZE = 128


def check_video_size(size: int, layout: str = "square") -> None:
    """One clear error for a video size or layout that is not offered."""
    if layout not in LAYOUTS:
        raise SyriSignError(f"unknown layout {layout!r}; choose {' or '.join(LAYOUTS)}")
    if not MIN_VIDEO_SIZE <= int(size) <= MAX_VIDEO_SIZE:
        raise SyriSignError(f"video size {size} is out of range: use {MIN_VIDEO_SIZE} to {MAX_VIDEO_SIZE} pixels")


@dataclass
class MethodOutput:
    method: str
    sequence: PoseSequence  # stitched, normalized units (shoulder widths)
    segments: list  # syrisign.stitch.Segment, one per sign unit, in output frames
    units: list[SignUnit]
    seconds: float

    def captions(self, plan) -> list[tuple[int, int, str, str]]:
        """(start, end, Arabic text, second line) per plan item: the word on top, how it is signed below."""
        items = {it.index: it for it in plan.items}
        out: list[list] = []
        for seg, unit in zip(self.segments, self.units):
            it = items.get(unit.item_index)
            word = it.text if it is not None else unit.text_ar
            if it is not None and it.kind in ("fingerspell", "substituted", "number") and len(it.entries) > 1:
                sub = f"{unit.text_ar}  ({it.kind})"
            else:
                sub = (it.english if it is not None and it.english else unit.text_en) or ""
            if out and out[-1][4] == unit.item_index and out[-1][3] == sub:
                out[-1][1] = seg.end_frame
            else:
                out.append([seg.start_frame, seg.end_frame, word, sub, unit.item_index])
        return [(a, b, w, s) for a, b, w, s, _ in out]


@dataclass
class Translation:
    text: str
    plan: object  # syrisign.plan.GlossPlan
    outputs: dict[str, MethodOutput] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # method -> why it produced nothing

    def to_dict(self, landmarks: bool = False) -> dict:
        d = {"text": self.text, "plan": self.plan.to_dict(), "errors": dict(self.errors), "outputs": {}}
        for m, out in self.outputs.items():
            o = {"frames": len(out.sequence), "fps": out.sequence.fps, "skeleton": out.sequence.skeleton.name,
                 "seconds": round(out.seconds, 3),
                 "segments": [{"start": s.start_frame, "end": s.end_frame, "label": s.label,
                               "item": u.item_index, "kind": u.kind} for s, u in zip(out.segments, out.units)]}
            if landmarks:
                o["joints"] = list(out.sequence.skeleton.joints)
                o["data"] = np.round(out.sequence.data, 4).tolist()
                o["confidence"] = np.round(out.sequence.confidence, 3).tolist()
            d["outputs"][m] = o
        return d


def to_pixel_frame(seq: PoseSequence, size: int = 512) -> PoseSequence:
    """Normalized units → a ``size`` x ``size`` pixel frame (for .pose files that other tools draw)."""
    scale = size / 6.0  # the frame spans 6 shoulder widths
    offset = np.array([size / 2, size * 0.42, 0.0], dtype=np.float32)
    data = np.where(seq.confidence[..., None] > 0, seq.data * scale + offset, 0.0).astype(np.float32)
    meta = dict(seq.meta, normalized=False, width=size, height=size)
    return PoseSequence(data, seq.confidence, seq.fps, seq.skeleton, seq.timestamps, meta)


def video_frames(result: Translation, size: int = 512, layout: str = "square", insets: bool = True):
    """The frames of ``result``'s video (lazy): one captioned panel with the method's name in the caption bar,
    or the methods side by side under one camera, each with its title; hand close-ups unless ``insets`` is
    False; ``size`` is a panel's width (``layout="portrait"``: 9:16)."""
    from render import render_frames, side_by_side

    check_video_size(size, layout)
    if len(result.outputs) == 1:
        (m, out), = result.outputs.items()
        return render_frames(out.sequence, size, out.captions(result.plan), m, layout=layout, insets=insets,
                             title_bar=False)
    return side_by_side([(METHOD_TITLES.get(m, m), out.sequence, out.captions(result.plan))
                         for m, out in result.outputs.items()], size, layout=layout, insets=insets)


class _Lazy:
    """A mapping computed on first ``get`` (the closest alphabets are measured only when a word needs them)."""

    def __init__(self, make) -> None:
        self._make, self._value = make, None

    def get(self, key, default=None):
        if self._value is None:
            self._value = self._make()
        return self._value.get(key, default)


class Pipeline:
    """Lexicon, translator, fuzzy matcher and producers, loaded once and reused for many texts."""

    def __init__(self, lexicon=None, translator: str | None = None, fuzzy: bool = True, fps: float = 25.0,
                 progress: bool = True, max_chars: int | None = None, signer: str = "reference",
                 hand: str = "right", fingerspell_rate: float = 2.5, as_recorded: bool = False) -> None:
        """``signer``: the body every clip is retargeted onto (``reference``: the lexicon's reference
        signer; ``mean``; a signer's name; ``none``), ``hand``: the output's dominant hand,
        ``fingerspell_rate``: letters per second of a fingerspelled word (one movement). ``as_recorded``
        plays every recording as it was signed (no retargeting, no mirroring, each letter its whole
        citation form): what SyriSign did before, kept for comparison."""
        from syrisign.lexicon import Lexicon, load_lexicon
        from syrisign.translator import load_translator

        self.lexicon = lexicon if isinstance(lexicon, Lexicon) else load_lexicon(lexicon, progress=progress)
        self.translator = load_translator(translator)
        self.fps, self.progress, self.max_chars = float(fps), progress, max_chars
        self._fuzzy_wanted, self._fuzzy, self.fuzzy_note = fuzzy, None, ""
        self._producers: dict[str, object] = {}
        from syrisign.spelling import SpellConfig
        self.spelling = SpellConfig(rate=float(fingerspell_rate))  # checks the rate now, not at the first word
        if hand not in ("left", "right"):
            raise SyriSignError(f"dominant hand must be left or right, got {hand!r}")
        self.signer, self.hand, self.as_recorded = signer, hand, bool(as_recorded)
        self._one_signer = None

    def set_lexicon(self, lexicon) -> None:
        """Use another lexicon from now on (the service after a community sign is added or removed): the
        signer book and the retrieval producer follow it; the fuzzy matcher keeps its index."""
        self.lexicon = lexicon
        self._one_signer = None
        self._producers.pop("retrieval", None)

    # -- stages ------------------------------------------------------------------------------
    def fuzzy_matcher(self):
        """The retrieval model's matcher for words with no exact lexicon entry (None when untrained)."""
        if not self._fuzzy_wanted:
            return None
        if self._fuzzy is None:
            try:
                from retrieval.producer import make_fuzzy_matcher
                self._fuzzy = make_fuzzy_matcher(lexicon=self.lexicon)
            except (ImportError, SyriSignError, TypeError) as e:
                self._fuzzy, self.fuzzy_note = False, f"fuzzy matching off: {e}"
        return self._fuzzy or None

    def plan(self, text: str):
        from syrisign.plan import make_plan
        kw = {"max_chars": self.max_chars} if self.max_chars else {}
        if self.as_recorded:
            plan = make_plan(text, self.lexicon, self.translator, self.fuzzy_matcher(), one_alphabet=False, **kw)
            plan.signer = "as recorded (each recording's own signer and hand)"
        else:
            one = self.one_signer()
            plan = make_plan(text, self.lexicon, self.translator, self.fuzzy_matcher(),
                             closest=_Lazy(one.book.closest_alphabets), **kw)
            one.book.flush()
            plan.signer = f"{one.name} (dominant hand: {one.hand})"
        if self.fuzzy_note and self.fuzzy_note not in plan.notes:
            plan.notes.append(self.fuzzy_note)
        return plan

    def producer(self, method: str):
        if method not in self._producers:
            opts = {"lexicon": self.lexicon} if method == "retrieval" else {}
            self._producers[method] = load_producer(method, **opts)
        return self._producers[method]

    def one_signer(self):
        """The :class:`~syrisign.signers.OneSigner` every method's clips go through (built on first use)."""
        if self._one_signer is None:
            from syrisign.signers import OneSigner, SignerBook
            # arms kept per clip: they are drawn in the image plane once, on the stitched sequence (produce)
            self._one_signer = OneSigner(SignerBook(self.lexicon, progress=self.progress), self.signer, self.hand,
                                         arms="kept")
        return self._one_signer

    def produce(self, plan, method: str) -> MethodOutput:
        """The method's clips, onto one signer (retargeted, one dominant hand), each fingerspelled word as one
        movement (:func:`syrisign.spelling.spell_word`), stitched; one segment per sign unit."""
        from syrisign.spelling import spell_word
        from syrisign.stitch import Segment, common_layout, stitch

        t0 = time.perf_counter()
        units = plan.units()
        if not units:
            raise SyriSignError("nothing to sign: no word of the text could be signed")
        clips = self.producer(method).produce(units)
        if len(clips) != len(units):
            raise SyriSignError(f"method {method} returned {len(clips)} clips for {len(units)} signs")
        if self.as_recorded:
            res = stitch(clips, [u.text_ar for u in units], fps=self.fps)
            return MethodOutput(method, res.sequence, res.segments, units, time.perf_counter() - t0)
        one = self.one_signer()
        layout = common_layout(clips)
        ready = []
        for c, u in zip(clips, units):
            recorded = u.entry is not None and c.meta.get("lexicon_entry") == getattr(u.entry, "id", None)
            ready.append(one.prepare(c, layout, self.fps, u.entry if recorded else None))
        # pieces to stitch: a fingerspelled word is one piece (its letters' holds in one movement)
        pieces: list[tuple[PoseSequence, str, list[int], list[int] | None]] = []
        i = 0
        while i < len(units):
            u = units[i]
            if u.kind in ("fingerspell", "substituted"):
                j = i
                while j < len(units) and units[j].item_index == u.item_index:
                    j += 1
                word = spell_word(ready[i:j], one.hand, self.spelling, one.body)
                pieces.append((word.sequence, u.meta.get("item_text") or u.text_ar, list(range(i, j)), word.bounds))
                i = j
            else:
                pieces.append((ready[i], u.text_ar, [i], None))
                i += 1
        res = stitch([p[0] for p in pieces], [p[1] for p in pieces], fps=self.fps)
        if one.body is not None:  # the joins too: every frame's arms with the body's lengths; one torso
            from syrisign.retarget import planar_arms, steady_lower_body
            other = "left" if one.hand == "right" else "right"
            res = replace(res, sequence=steady_lower_body(planar_arms(res.sequence, one.body, hang_sides=(other,))))
        segments = []
        for k, (_, label, idx, bounds) in enumerate(pieces):
            if bounds is None:
                segments.append(replace(res.segments[k], label=units[idx[0]].text_ar))
                continue
            for (a, b), ui in zip(res.split(k, bounds), idx):
                segments.append(Segment(a, b, units[ui].text_ar, k, res.segments[k].source))
        one.book.flush()
        return MethodOutput(method, res.sequence, segments, units, time.perf_counter() - t0)

    def translate(self, text: str, methods: list[str] | tuple[str, ...] = ("retrieval",),
                  keep_going: bool = False) -> Translation:
        """Plan once, then produce with each method. With ``keep_going`` a failing method is
        recorded in ``errors`` (e.g. a model not trained yet) instead of stopping the others."""
        for m in methods:
            if m not in available_producers():
                raise SyriSignError(f"unknown method {m!r}; choose from {', '.join(available_producers())} or all")
        plan = self.plan(text)
        result = Translation(text, plan)
        for m in methods:
            try:
                result.outputs[m] = self.produce(plan, m)
            except SyriSignError as e:
                if not keep_going:
                    raise
                result.errors[m] = str(e)
        if not result.outputs:
            raise SyriSignError("; ".join(f"{m}: {e}" for m, e in result.errors.items()) or "nothing produced")
        return result

    # -- output ------------------------------------------------------------------------------------
    def write(self, result: Translation, path: str | Path, fmt: str | None = None, size: int = 512,
              layout: str = "square", insets: bool = True, preset: str = "superfast") -> list[Path]:
        """Write the result; returns the files written (one per method for .pose/.npz). ``size``, ``layout``
        and ``insets`` are the video's (:func:`video_frames`), ``preset`` x264's for mp4 (``ultrafast``: half
        the encoding time, about twice the bytes); a .pose file is drawn in a ``size`` frame."""
        import json

        from syrisign.pose import atomic_write_bytes

        path = Path(path)
        fmt = (fmt or path.suffix.lstrip(".") or "mp4").lower()
        if fmt not in FORMATS:
            raise SyriSignError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
        if path.suffix.lstrip(".").lower() != fmt:
            path = path.with_suffix(f".{fmt}")
        if fmt == "json":
            atomic_write_bytes(path, json.dumps(result.to_dict(landmarks=True), ensure_ascii=False).encode("utf-8"))
            return [path]
        if fmt in ("pose", "npz"):
            written = []
            for m, out in result.outputs.items():
                p = path if len(result.outputs) == 1 else path.with_name(f"{path.stem}.{m}{path.suffix}")
                seq = to_pixel_frame(out.sequence, size) if fmt == "pose" else out.sequence
                written.append(seq.save(p))
            return written
        from render import write_video

        return [write_video(video_frames(result, size, layout, insets), path, fps=self.fps, preset=preset)]
