"""An index of lexicon embeddings for search, recognition and fuzzy matching.

For every lexicon entry the index holds the pose embedding of its recording and the text embedding of
its label (read by the model's own text tower with the entry's sign-language tag). It is cached under
``$SYRISIGN_HOME/cache/retrieval/`` and rebuilt when the checkpoint or the lexicon changes (the cache
key hashes the checkpoint's size and modification time and the lexicon's index.csv and meta.csv).

Fuzzy matching compares a word's text embedding with the *label* embeddings of the lexicon's word
signs (not letters or numbers) and accepts the nearest only above a calibrated threshold; see
:func:`calibrate` for how the threshold is chosen and ``results/retrieval.md`` for the measurement
behind these choices.
"""
from __future__ import annotations

import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from retrieval.textspace import bound_memo
from syrisign.errors import SyriSignError

INDEX_VERSION = 5  # 5: the text tower's numpy copy (retrieval.textspace) and the frozen label vectors
TARGET_PRECISION = 0.9


class RetrievalIndexError(SyriSignError):
    pass


def default_checkpoint() -> Path:
    """The product model: ``$SYRISIGN_HOME/checkpoints/retrieval-arabic.pt``."""
    from syrisign.settings import get_settings
    return get_settings().checkpoint("retrieval-arabic.pt")


def _file_sig(p: Path) -> str:
    st = p.stat()
    return f"{p.resolve()}:{st.st_size}:{st.st_mtime_ns}"


def _lexicon_sig(lexicon) -> str:
    h = hashlib.sha1()
    for name in ("index.csv", "meta.csv"):
        f = Path(lexicon.root) / name
        if f.is_file():
            h.update(f.read_bytes())
    h.update(str(Path(lexicon.root).resolve()).encode())
    h.update("|".join(e.id for e in lexicon.entries).encode())
    return h.hexdigest()


@dataclass
class Match:
    """One search or recognition result."""

    label_ar: str
    label_en: str
    score: float
    signed_language: str = ""
    entry: object = None  # LexiconEntry (None for a model class)
    entries: list = field(default_factory=list)  # all recordings of this sign in the lexicon

    def to_dict(self) -> dict:
        return {"label_ar": self.label_ar, "label_en": self.label_en, "score": round(float(self.score), 4),
                "signed_language": self.signed_language,
                "entry": getattr(self.entry, "id", None), "recordings": [getattr(e, "id", "") for e in self.entries]}


def _group_key(e) -> tuple[str, str]:
    """One sign: its gloss (``karsl:0072`` joins the label جمجة and its alias جمجمة), else its words."""
    return (e.glosses or e.key, e.signed_language)


def looks_like_letter_or_number(text: str) -> bool:
    """A query for a letter or number sign (one letter, a letter form such as ال, or digits)."""
    from syrisign.text import LETTERS, surface_form
    t = surface_form(text).strip()
    return bool(t) and (t in LETTERS or text.strip() in LETTERS or t.isdigit() or len(t.replace(" ", "")) <= 1)


def is_fuzzy_target(entry) -> bool:
    """Word signs only: a word must never fuzzily become one letter or one number."""
    return entry.kind == "word"


class _Scored:
    """What search and fuzzy matching need from an index: ``entries``, ``calibration`` and
    ``text_scores(text, space)``."""

    entries: list
    calibration: dict

    def fuzzy(self, surface: str) -> tuple[object, float] | None:
        """``(entry, score)`` of the nearest word sign if its score reaches the calibrated threshold."""
        th = self.calibration.get("threshold")
        if th is None or not np.isfinite(th):
            return None
        best = self.fuzzy_best(surface)
        if best is None or best[1] < th:
            return None
        return best

    def fuzzy_best(self, surface: str) -> tuple[object, float] | None:
        space = self.calibration.get("space", "text")
        s = self.text_scores(surface, space)
        words, groups = self._word_groups()
        if not words:
            return None
        # the best entry of the best sign: lowest priority number among that sign's recordings
        i = max(words, key=lambda j: s[j])
        j = min(groups[_group_key(self.entries[i])], key=lambda j: (self.entries[j].priority, -s[j]))
        return self.entries[j], float(s[i])

    def _word_groups(self) -> tuple[list[int], dict[tuple[str, str], list[int]]]:
        """The fuzzy targets' indices and, per sign, its recordings' indices (computed once per index)."""
        if getattr(self, "_groups", None) is None:
            words = [i for i, e in enumerate(self.entries) if is_fuzzy_target(e)]
            groups: dict[tuple[str, str], list[int]] = {}
            for i in words:
                groups.setdefault(_group_key(self.entries[i]), []).append(i)
            self._groups = (words, groups)
        return self._groups


def _scores_by_language(entries, target: np.ndarray, query) -> np.ndarray:
    """``(N,)``: each entry's row of ``target`` against the query embedded with the entry's sign language."""
    langs = sorted({e.signed_language for e in entries})
    q = {lang: query(lang) for lang in langs}
    return np.array([float(q[e.signed_language] @ target[i]) for i, e in enumerate(entries)])


class TextIndex(_Scored):
    """The text side of a cached :class:`LexiconIndex` without torch: the label embeddings, the label vectors
    of the frozen encoder and the tower's projection as numpy arrays (:class:`retrieval.textspace.TextSpace`).
    What a new ``syrisign translate`` process uses for fuzzy matching; the same scores as the model's
    (tests/test_retrieval.py compares them)."""

    def __init__(self, lexicon, text_emb: np.ndarray, frozen_emb: np.ndarray, space, calibration: dict):
        self.lexicon, self.entries = lexicon, list(lexicon.entries)
        self.text_emb, self.frozen_emb, self.space = text_emb, frozen_emb, space
        self.calibration = calibration or {}
        self._query_cache: dict[tuple[str, str], np.ndarray] = {}

    def query(self, text: str, sign_lang: str) -> np.ndarray:
        k = (text, sign_lang)
        if k not in self._query_cache:
            bound_memo(self._query_cache)
            self._query_cache[k] = self.space.encode([text], [sign_lang])[0]
        return self._query_cache[k]

    def text_scores(self, text: str, space: str = "text") -> np.ndarray:
        if space == "frozen":
            return self.frozen_emb @ self.space.frozen([text])[0]
        if space != "text":
            raise RetrievalIndexError(f"the numpy text side scores labels ('text', 'frozen'), not {space!r}")
        return _scores_by_language(self.entries, self.text_emb, lambda lang: self.query(text, lang))

    @classmethod
    def from_cache(cls, checkpoint=None, lexicon=None) -> TextIndex | None:
        """The cached index's text side, or None when there is none yet (:meth:`LexiconIndex.load_or_build`
        writes it) or the model's tower needs torch (a BERT tower)."""
        from retrieval.textspace import TextSpace
        from syrisign.lexicon import Lexicon, load_lexicon

        ck = Path(checkpoint) if checkpoint else default_checkpoint()
        if not ck.is_file():
            return None
        lex = lexicon if isinstance(lexicon, Lexicon) else load_lexicon(lexicon, progress=False)
        cache = _cache_path(ck, lex)
        if not cache.is_file():
            return None
        try:
            with np.load(cache, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                if meta.get("ids") != [e.id for e in lex.entries] or not meta.get("textspace"):
                    return None
                space = TextSpace.from_arrays(meta["textspace"], z)
                return cls(lex, z["text"], z["frozen"], space, meta.get("calibration"))
        except Exception:  # noqa: BLE001 - a damaged cache: the full index rebuilds it
            return None


def _cache_path(ck: Path, lexicon) -> Path:
    from syrisign.settings import get_settings
    key = hashlib.sha1(f"{INDEX_VERSION}|{_file_sig(ck)}|{_lexicon_sig(lexicon)}".encode()).hexdigest()[:20]
    return get_settings().cache / "retrieval" / f"index-{key}.npz"


class LexiconIndex(_Scored):
    """Embeddings of a lexicon's entries under one model."""

    def __init__(self, loaded, lexicon, pose_emb: np.ndarray, text_emb: np.ndarray, ok: np.ndarray,
                 calibration: dict | None = None):
        self.loaded, self.model, self.lexicon = loaded, loaded.model, lexicon
        self.entries = list(lexicon.entries)
        self.pose_emb, self.text_emb, self.ok = pose_emb, text_emb, ok  # (N, E), (N, E), (N,) bool
        self.calibration = calibration or {}
        self._query_cache: dict[tuple[str, str], np.ndarray] = {}

    # -- building and caching ------------------------------------------------------------------------
    @classmethod
    def build(cls, loaded, lexicon, progress: bool = False) -> LexiconIndex:
        from tqdm import tqdm

        from retrieval.data import Item
        from retrieval.evaluate import embed_items
        from syrisign.ml.features import prepare

        from syrisign.skeletons import get_skeleton

        feat = loaded.config.features()
        j = get_skeleton(loaded.config.layout).num_joints
        items, ok = [], np.zeros(len(lexicon.entries), dtype=bool)
        for i, e in enumerate(tqdm(lexicon.entries, desc="retrieval index", disable=not progress, leave=False)):
            try:
                x, m = prepare(lexicon.pose(e), feat)
                if len(x) == 0:
                    raise ValueError("no frames")
                ok[i] = True
            except Exception as err:  # noqa: BLE001 - one bad recording is skipped, not fatal
                x, m = np.zeros((1, j, 3), np.float32), np.zeros((1, j), dtype=bool)
                if progress:
                    print(f"retrieval index: no pose embedding for {e.id}: {err}")
            items.append(Item(x, m, "", None, ""))
        pose = embed_items(loaded.model, items) if items else np.zeros((0, loaded.config.embed_dim), np.float32)
        text = embed_texts(loaded, [(e.words, e.english, e.signed_language) for e in lexicon.entries])
        idx = cls(loaded, lexicon, pose, text, ok)
        idx.calibration = calibrate(idx)
        return idx

    @classmethod
    def load_or_build(cls, checkpoint=None, lexicon=None, progress: bool = False, device: str = "cpu"
                      ) -> LexiconIndex:
        """The cached index of ``lexicon`` (default lexicon if None) under ``checkpoint`` (default product model)."""
        from retrieval.model import load_model
        from retrieval.textspace import TextSpace
        from syrisign.lexicon import Lexicon, load_lexicon
        from syrisign.pose import atomic_write_bytes

        ck = Path(checkpoint) if checkpoint else default_checkpoint()
        loaded = load_model(ck, device)
        lex = lexicon if isinstance(lexicon, Lexicon) else load_lexicon(lexicon, progress=progress)
        cache = _cache_path(ck, lex)
        if cache.is_file():
            try:
                with np.load(cache, allow_pickle=False) as z:
                    meta = json.loads(str(z["meta"]))
                    if meta.get("ids") == [e.id for e in lex.entries]:
                        return cls(loaded, lex, z["pose"], z["text"], z["ok"], meta.get("calibration"))
            except Exception:  # noqa: BLE001 - a damaged cache is rebuilt
                pass
        idx = cls.build(loaded, lex, progress)
        buf = io.BytesIO()
        meta = {"ids": [e.id for e in lex.entries], "calibration": idx.calibration, "checkpoint": str(ck),
                "lexicon": str(lex.root)}
        arrays = {}
        space = TextSpace.from_model(loaded.model)
        if space is not None:  # the text side without torch, for TextIndex
            meta["textspace"] = space.header()
            arrays = {**space.to_arrays(), "frozen": idx.frozen_emb}
        np.savez(buf, pose=idx.pose_emb, text=idx.text_emb, ok=idx.ok,
                 meta=np.array(json.dumps(meta, ensure_ascii=False)), **arrays)
        try:
            atomic_write_bytes(cache, buf.getvalue())
        except OSError:
            pass
        return idx

    # -- queries ----------------------------------------------------------------------------------
    def query(self, text: str, sign_lang: str) -> np.ndarray:
        k = (text, sign_lang)
        if k not in self._query_cache:
            bound_memo(self._query_cache)
            self._query_cache[k] = embed_texts(self.loaded, [(text, "", sign_lang)], translate=True)[0]
        return self._query_cache[k]

    @property
    def has_frozen(self) -> bool:
        from retrieval.model import FrozenTextTower
        return isinstance(self.model.text, FrozenTextTower)

    def frozen_vectors(self, texts: list[str]) -> np.ndarray:
        """The text tower's frozen first stage (before the learned projection); unit vectors."""
        if not self.has_frozen:
            raise RetrievalIndexError("the 'frozen' space needs a frozen text tower (this model has a BERT tower)")
        return self.model.text.frozen([self.model.prompt(t, "", "") for t in texts])

    @property
    def frozen_emb(self) -> np.ndarray:
        if getattr(self, "_frozen_emb", None) is None:
            self._frozen_emb = self.model.text.frozen(
                [self.model.prompt(e.words, e.english, e.signed_language) for e in self.entries])
        return self._frozen_emb

    def text_scores(self, text: str, space: str = "text") -> np.ndarray:
        """``(N,)`` cosine of the query with every entry: ``pose`` its recording (text→pose), ``text`` its
        label through the trained tower, ``frozen`` its label in the tower's frozen encoder (before the
        projection), ``both`` the mean of pose and text."""
        if space == "frozen":
            return self.frozen_emb @ self.frozen_vectors([text])[0]
        target = self.text_emb if space == "text" else self.pose_emb
        s = _scores_by_language(self.entries, target, lambda lang: self.query(text, lang))
        if space == "pose":
            s = np.where(self.ok, s, -1.0)
        elif space == "both":
            p = _scores_by_language(self.entries, self.pose_emb, lambda lang: self.query(text, lang))
            s = np.where(self.ok, 0.5 * (s + p), s)
        return s

    def _grouped(self, scores: np.ndarray, k: int, keep=None) -> list[Match]:
        best: dict[tuple, tuple[float, list]] = {}
        for i, e in enumerate(self.entries):
            if keep is not None and not keep(e):
                continue
            g = _group_key(e)
            sc, members = best.get(g, (-np.inf, []))
            members.append(e)
            if scores[i] > sc:
                best[g] = (float(scores[i]), members)
                members.sort(key=lambda x, i=i: x is not self.entries[i])  # best recording first
            else:
                best[g] = (sc, members)
        order = sorted(best.values(), key=lambda v: -v[0])[:k]
        out = []
        for sc, members in order:
            e = members[0]
            out.append(Match(e.words, e.english, sc, e.signed_language, e, list(members)))
        return out

    def search(self, text: str, k: int = 5, space: str = "auto", words_only: bool | None = None) -> list[Match]:
        """Top-k signs for a text.

        ``space="auto"``: a word is compared with the word signs' labels in the text tower's frozen
        encoder (``frozen``; measured best on the held-out Arabic search queries: top-1 25/25 against
        21/25 text→pose and 22/25 through the trained tower, results/retrieval.md), a letter or number,
        or any query of a model without a frozen tower, with the recordings (``pose``, SignCLIP
        text→pose). ``words_only=None`` (auto): a word searches the word signs, a letter or number all signs.
        """
        if not text.strip():
            raise RetrievalIndexError("nothing to search: the text is empty")
        letter = looks_like_letter_or_number(text)
        if words_only is None:
            words_only = not letter
        if space == "auto":
            space = "frozen" if self.has_frozen and not letter else "pose"
        return self._grouped(self.text_scores(text, space), k, is_fuzzy_target if words_only else None)

    def recognize(self, seq, k: int = 5, space: str = "text") -> list[Match]:
        """Top-k signs for a recording (``text``: pose→text against the labels; ``pose``: nearest recording)."""
        from retrieval.data import Item
        from retrieval.evaluate import embed_items
        from syrisign.ml.features import prepare
        x, m = prepare(seq, self.loaded.config.features())
        if len(x) == 0:
            raise RetrievalIndexError("the recording has no frames")
        p = embed_items(self.model, [Item(x, m, "", None, "")])[0]
        target = self.text_emb if space == "text" else self.pose_emb
        s = target @ p
        if space == "pose":
            s = np.where(self.ok, s, -1.0)
        return self._grouped(s, k)


def embed_texts(loaded, triples: list[tuple[str, str, str]], translate: bool = False) -> np.ndarray:
    """Text embeddings of ``(arabic, english, sign language)`` as the model's tower reads them.

    The SignCLIP (``bert``) tower needs English: an Arabic text without one is translated with
    :func:`syrisign.translator.load_translator` when ``translate`` (queries) or when no English is given.
    """
    import torch
    model = loaded.model
    if not triples:
        return np.zeros((0, loaded.config.embed_dim), np.float32)
    if model.cfg.text.kind == "bert":
        need = [i for i, (ar, en, _) in enumerate(triples) if ar and not en]
        if need:
            tr = _translator()
            eng = tr.translate([triples[i][0] for i in need]) if tr is not None else [triples[i][0] for i in need]
            triples = list(triples)
            for i, en in zip(need, eng):
                triples[i] = (triples[i][0], en, triples[i][2])
    texts = [model.prompt(ar, en, lang) for ar, en, lang in triples]
    langs = [lang for _, _, lang in triples]
    with torch.no_grad():
        out = [model.encode_text(texts[i:i + 128], langs[i:i + 128]).float().cpu().numpy()
               for i in range(0, len(texts), 128)]
    return np.concatenate(out)


_TRANSLATOR = []


def _translator():
    if not _TRANSLATOR:
        try:
            from syrisign.translator import load_translator
            _TRANSLATOR.append(load_translator())
        except Exception:  # noqa: BLE001 - no translator: the Arabic goes in as it is
            _TRANSLATOR.append(None)
    return _TRANSLATOR[0]


# -- calibration of the fuzzy threshold ----------------------------------------------------------------
_BRACKETS = re.compile(r"\([^)]*\)|\[[^]]*\]")


def _glossary_rows() -> list[dict]:
    from syrisign.settings import get_settings
    f = get_settings().data / "glossary" / "jsl_glossary.jsonl"
    if not f.is_file():
        return []
    rows = []
    for line in f.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def _terms(s: str) -> list[str]:
    s = _BRACKETS.sub(" ", s or "")
    return [t.strip() for t in re.split(r"[،,;/]", s) if t.strip()]


def calibration_set(lexicon, seed: int = 0, n_groups: int = 60, n_negatives: int = 400) -> dict:
    """Text pairs to calibrate the fuzzy threshold on, from the JSL glossary (no recording needed).

    - *Pseudo-lexicon*: ``n_groups`` glossary lines with two or more Arabic synonyms
      (``"سَحْنة وجه، هيئة الوجه"``): the first synonym joins the lexicon's real word signs as an extra
      entry, the second is a query that should find it (a word with no exact entry whose meaning is in the
      lexicon);
    - real entries: glossary terms whose English equals a lexicon word's English but whose Arabic has
      another match key (``صدر`` Chest → ``قفص صدري``) are queries that should find that word;
    - negatives: ``n_negatives`` other glossary terms (no shared English word with any entry): they must
      be rejected.
    """
    from syrisign.text import match_key
    rows = _glossary_rows()
    if not rows:
        return {}
    rng = np.random.default_rng(seed)
    words = [e for e in lexicon.entries if is_fuzzy_target(e)]
    keys = {e.key for e in words}
    en_of: dict[str, str] = {}
    for e in words:
        for t in _terms(e.english.lower()):
            en_of.setdefault(t, _group_key(e)[0])
    lex_en_words = {w for t in en_of for w in re.findall(r"[a-z]+", t)}
    queries: list[tuple[str, str | None]] = []  # (query, expected group key or None)
    pseudo: list[str] = []
    groups = [r for r in rows if len(_terms(r.get("arabic", ""))) >= 2]
    rng.shuffle(groups)
    used: set[str] = set()
    for r in groups:
        t = _terms(r["arabic"])
        a, b = t[0], t[1]
        ka, kb = match_key(a), match_key(b)
        if not ka or not kb or ka == kb or ka in keys or kb in keys or ka in used or kb in used:
            continue
        pseudo.append(a)
        queries.append((b, "pseudo:" + ka))
        used |= {ka, kb}
        if len(pseudo) >= n_groups:
            break
    for r in rows:
        for en in _terms((r.get("english") or "").lower()):
            if en in en_of:
                for ar in _terms(r.get("arabic", "")):
                    k = match_key(ar)
                    if k and k not in keys and k not in used:
                        queries.append((ar, en_of[en]))
                        used.add(k)
    neg_pool = []
    for r in rows:
        en_words = set(re.findall(r"[a-z]+", (r.get("english") or "").lower()))
        if en_words & lex_en_words:
            continue
        for ar in _terms(r.get("arabic", ""))[:1]:
            k = match_key(ar)
            if k and k not in keys and k not in used and len(ar.split()) <= 3:
                neg_pool.append(ar)
                used.add(k)
    rng.shuffle(neg_pool)
    queries += [(q, None) for q in neg_pool[:n_negatives]]
    return {"pseudo": pseudo, "queries": queries}


def threshold_for_precision(scores: np.ndarray, correct: np.ndarray, target: float = TARGET_PRECISION
                            ) -> tuple[float, float, float]:
    """Lowest score threshold whose accepted set has precision ≥ target:
    ``(threshold, precision, recall)``; threshold +inf when none qualifies."""
    order = np.argsort(-scores, kind="stable")
    s, c = scores[order], correct[order]
    n_pos = max(1, int(correct.sum()))
    best = (float("inf"), float("nan"), 0.0)
    tp = 0
    for i in range(len(s)):
        tp += int(c[i])
        if i + 1 < len(s) and s[i + 1] == s[i]:
            continue  # a threshold accepts all equal scores together
        prec = tp / (i + 1)
        if prec >= target:
            best = (float(s[i]), prec, tp / n_pos)
    return best


def calibrate(index: LexiconIndex, target: float = TARGET_PRECISION, spaces: tuple[str, ...] = ("text", "frozen")
              ) -> dict:
    """The fuzzy space and threshold: for each candidate space, the lowest threshold that keeps
    precision ≥ ``target`` on the glossary calibration set; the space with the higher recall there wins.

    A query counts as correct when its best word sign (pseudo-entries included) is the expected one and
    as an error when it is another one or the query is a negative. Without the glossary
    (``$SYRISIGN_DATA/glossary``) the threshold is +inf: fuzzy matching stays off.
    """
    cs = calibration_set(index.lexicon)
    if not cs:
        return {"threshold": float("inf"), "space": "text", "note": "no glossary: fuzzy matching off"}
    per = {}
    for space in spaces:
        if space == "frozen" and not index.has_frozen:
            continue
        per[space] = _calibrate_space(index, cs, target, space)
    best = max(per, key=lambda k: (per[k]["recall"], k == "text"))
    return {**per[best], "compared": per}


def _calibrate_space(index: LexiconIndex, cs: dict, target: float, space: str) -> dict:
    words = [i for i, e in enumerate(index.entries) if is_fuzzy_target(e)]
    from syrisign.text import match_key
    names = [_group_key(index.entries[i])[0] for i in words] + ["pseudo:" + match_key(p) for p in cs["pseudo"]]
    langs = sorted({index.entries[i].signed_language for i in words}) or ["sdl"]
    lang = langs[0]
    qs = [q for q, _ in cs["queries"]]
    if space == "text":
        pseudo_emb = embed_texts(index.loaded, [(p, "", lang) for p in cs["pseudo"]], translate=True)
        q_emb = embed_texts(index.loaded, [(q, "", lang) for q in qs], translate=True)
        label_emb = index.text_emb[words]
    elif space == "frozen":
        pseudo_emb, q_emb = index.frozen_vectors(cs["pseudo"]), index.frozen_vectors(qs)
        label_emb = index.frozen_emb[words]
    else:
        raise ValueError(f"calibration is defined for the text and frozen spaces, not {space!r}")
    targets = np.concatenate([label_emb, pseudo_emb]) if words else pseudo_emb
    sim = q_emb @ targets.T  # (Q, W + P)
    best = sim.argmax(1)
    scores = sim.max(1)
    correct = np.array([exp is not None and names[b] == exp for b, (_, exp) in zip(best, cs["queries"])])
    th, prec, rec = threshold_for_precision(scores, correct, target)
    n_pos = sum(1 for _, e in cs["queries"] if e is not None)
    return {"threshold": th, "space": space, "target_precision": target, "precision": prec, "recall": rec,
            "positives": n_pos, "negatives": len(cs["queries"]) - n_pos, "pseudo_entries": len(cs["pseudo"]),
            "real_word_signs": len({_group_key(index.entries[i]) for i in words})}
