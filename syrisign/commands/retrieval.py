"""``syrisign search TEXT`` and ``syrisign recognize FILE``: the retrieval model in use.

Both read the product model (``$SYRISIGN_HOME/checkpoints/retrieval-arabic.pt``, from
``syrisign train retrieval``) and an index of the lexicon's embeddings, cached under
``$SYRISIGN_HOME/cache/retrieval`` and rebuilt when the model or the lexicon changes.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-k", "--top", type=int, default=5, help="how many matches (default 5)")
    p.add_argument("--checkpoint", help="retrieval checkpoint (default: $SYRISIGN_HOME/checkpoints/retrieval-arabic.pt)")
    p.add_argument("--lexicon", help="lexicon folder or index.csv (default: the default Arabic lexicon)")
    p.add_argument("--json", action="store_true", help="print JSON for programs")


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("search", help="find lexicon signs for a text with the retrieval model",
                       description="Rank the lexicon's signs by the similarity of the text to their recordings "
                                   "(text→pose, SignCLIP) or to their labels (--space text, frozen; see --space).")
    s.add_argument("text", metavar="TEXT")
    _common(s)
    s.add_argument("--space", choices=["auto", "pose", "text", "both", "frozen"], default="auto",
                   help="auto (default): a word against the labels in the text tower's frozen encoder (frozen; "
                        "measured best), a letter or number against the recordings; pose: the recordings "
                        "(text→pose), text: the labels through the trained tower, both: pose and text")
    s.add_argument("--kinds", choices=["auto", "words", "all"], default="auto",
                   help="auto (default): a word searches the word signs, a letter or number every sign")
    s.set_defaults(func=_search)

    r = sub.add_parser("recognize", help="name the sign in a recording (video, frame folder, .pose or .npz)",
                       description="Prints the top-k lexicon signs, best first, one per line: rank, score, Arabic "
                                   "label, English label. Videos and frame folders go through MediaPipe Holistic.")
    r.add_argument("file", metavar="FILE")
    _common(r)
    r.add_argument("--space", choices=["text", "pose"], default="text",
                   help="compare with the signs' labels (text, default: pose→text) or with their recordings (pose)")
    r.add_argument("--candidates", choices=["lexicon", "classes"], default="lexicon",
                   help="lexicon signs (default) or the model's own training classes")
    r.set_defaults(func=_recognize)


def _print(matches, as_json: bool, extra: dict) -> None:
    if as_json:
        print(json.dumps({**extra, "matches": [m.to_dict() for m in matches]}, ensure_ascii=False, indent=2))
        return
    for i, m in enumerate(matches, 1):
        lang = f"\t[{m.signed_language}]" if m.signed_language else ""
        print(f"{i}\t{m.score:.3f}\t{m.label_ar or '-'}\t{m.label_en or '-'}{lang}")


def _search(args) -> int:
    from retrieval.producer import get_index
    idx = get_index(args.checkpoint, args.lexicon, progress=not args.json)
    matches = idx.search(args.text, k=args.top, space=args.space, words_only={"auto": None, "words": True, "all": False}[args.kinds])
    _print(matches, args.json, {"query": args.text, "space": args.space})
    return 0


def load_recording(path: str | Path):
    """A PoseSequence from a .pose/.npz file, or MediaPipe Holistic on a video or a folder of frames."""
    from syrisign.errors import SyriSignError
    from syrisign.pose import PoseSequence
    p = Path(path).expanduser()
    if not p.exists():
        raise SyriSignError(f"{p}: no such file or folder")
    if p.is_file() and p.suffix.lower() in (".pose", ".npz"):
        return PoseSequence.load(p)
    from syrisign.data.extract import HolisticExtractor
    ex = HolisticExtractor()
    try:
        return ex.extract_path(p)
    finally:
        ex.close()


def _recognize(args) -> int:
    seq = load_recording(args.file)
    if args.candidates == "classes":
        matches = _recognize_classes(args, seq)
    else:
        from retrieval.producer import get_index
        idx = get_index(args.checkpoint, args.lexicon, progress=not args.json)
        matches = idx.recognize(seq, k=args.top, space=args.space)
    _print(matches, args.json, {"file": str(args.file), "frames": len(seq), "space": args.space})
    return 0


def _recognize_classes(args, seq):
    import numpy as np

    from retrieval.data import Item
    from retrieval.evaluate import embed_classes, embed_items
    from retrieval.index import Match, default_checkpoint
    from retrieval.model import load_model
    from syrisign.ml.features import prepare
    lm = load_model(args.checkpoint or default_checkpoint())
    x, m = prepare(seq, lm.config.features())
    p = embed_items(lm.model, [Item(x, m, "", None, "")])[0]
    s = embed_classes(lm.model, lm.classes) @ p
    order = np.argsort(-s)[:args.top]
    return [Match(lm.classes[i]["label_ar"], lm.classes[i]["label_en"], float(s[i]), lm.classes[i]["signed_language"])
            for i in order]
