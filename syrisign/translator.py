"""Arabic → English translation behind one interface: ``translate(texts) -> list[str]``.

- ``glossary`` (default, offline, no model): :class:`GlossaryTranslator`, a phrase dictionary built from
  the bilingual labels at hand (the lexicon's own English, KArSL's 502 labels, the 7331-line Jordanian
  Sign Language glossary), matched by the text front end's match keys, longest phrase first, clitics
  stripped; unknown words are romanized (or kept, or dropped). Gloss-like English, not fluent English.
- ``marian:/dir``: :class:`MarianTranslator`, a MarianMT model (e.g. an OPUS-MT ar-en download) from a folder.
- ``arat5:/dir``: :class:`AraT5Translator`, a T5 seq2seq model (e.g. an AraT5 MT fine-tune) from a folder.

:func:`load_translator` picks one by name, folder or the ``SYRISIGN_TRANSLATOR`` setting. Models are
read from local folders only: ``HF_HUB_OFFLINE=1`` and ``local_files_only=True``, nothing is downloaded.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

from syrisign.errors import SyriSignError
from syrisign.settings import get_settings
from syrisign.text import (
    DEFAULT_MAX_CHARS, longest_match, match_key, not_signed_reason, parse_number, romanize, tokenize,
)


class TranslatorError(SyriSignError, RuntimeError):
    """A translator that cannot be loaded or run; the message says what to do."""


class Translator:
    """Arabic → English. Subclasses implement :meth:`translate`."""

    name = "base"

    def translate(self, texts: list[str]) -> list[str]:
        raise NotImplementedError

    def __call__(self, text: str) -> str:
        return self.translate([text])[0]


# -- glossary ---------------------------------------------------------------------------------
_SENSE = re.compile(r"\s*[(\[]\s*[0-9٠-٩]+\s*[)\]]\s*")
_PAREN = re.compile(r"\s*[(\[][^)\]]*[)\]]\s*")
_PUNCT_EN = {"،": ",", "؛": ";", "؟": "?", "٪": "%"}


def tidy_arabic_terms(arabic: str) -> list[str]:
    """The Arabic terms of a glossary headword: sense numbers "(١)" and other parentheses removed,
    alternatives split at ، , /."""
    s = _PAREN.sub(" ", _SENSE.sub(" ", arabic))
    return [t.strip() for t in re.split(r"[،,/]", s) if t.strip()]


def tidy_english(english: str) -> str:
    """Sense numbers, "(to be)" and other parentheses removed, first alternative (before , or /), lower case."""
    s = _PAREN.sub(" ", _SENSE.sub(" ", english))
    s = re.split(r"[,/;]", s)[0]
    return " ".join(s.split()).strip(" .-").lower()


class GlossaryTranslator(Translator):
    """Phrase-dictionary translation. ``glossary`` maps match keys to English.

    ``unknown``: "romanize" (default: a consonantal Latin stand-in, so English-only text encoders
    still see a token), "keep" (the Arabic word) or "drop".
    """

    name = "glossary"

    def __init__(self, glossary: dict[str, str], unknown: str = "romanize", max_words: int = 5,
                 sources: list[str] | None = None) -> None:
        if unknown not in ("romanize", "keep", "drop"):
            raise TranslatorError(f"unknown={unknown!r}: choose romanize, keep or drop")
        self.glossary = dict(glossary)
        self.unknown = unknown
        self.max_words = max(1, min(max_words, max((len(k.split()) for k in self.glossary), default=1)))
        self.sources = list(sources or [])

    def __len__(self) -> int:
        return len(self.glossary)

    @classmethod
    def from_sources(cls, karsl_labels: str | os.PathLike | None = None, jsl_glossary: str | os.PathLike | None = None,
                     lexicon=None, news: bool = True, **kw) -> GlossaryTranslator:
        """Merge the sources; on a clash the first wins: SyriSign's news senses and proper nouns
        (:data:`syrisign.vocabulary.NEWS_GLOSSARY`, unless ``news=False``), the lexicon's English, then KArSL,
        then the JSL glossary (its first sense)."""
        gloss: dict[str, str] = {}
        sources = []

        def put(arabic: str, english: str) -> None:
            en = tidy_english(english)
            if not en:
                return
            for term in tidy_arabic_terms(arabic):
                k = match_key(term)
                if k and k not in gloss:
                    gloss[k] = en

        if news:
            from syrisign.vocabulary import NEWS_GLOSSARY
            for ar, en in NEWS_GLOSSARY.items():
                put(ar, en)
            sources.append(f"news senses and names ({len(NEWS_GLOSSARY)})")
        if lexicon is not None:
            n = 0
            for e in lexicon.entries:
                if e.english and e.kind == "word":
                    put(e.words, e.english)
                    n += 1
            sources.append(f"lexicon {lexicon.root} ({n} entries with English)")
        if karsl_labels is not None:
            d = json.loads(Path(karsl_labels).read_text(encoding="utf-8"))
            pairs = [(str(a), str(b)) for a, b in zip(d["AR_WORDS"], d["EN_WORDS"])][31:]  # 1-31 are numbers
            for ar, en in pairs:
                put(ar, en)
            put("جمجمة", "skull")  # KArSL's label for 0072 is misspelt جمجة
            sources.append(f"KArSL labels ({len(pairs)})")
        if jsl_glossary is not None:
            n = 0
            with open(jsl_glossary, encoding="utf-8") as f:
                for line in f:
                    line = line.strip()
                    if not line:
                        continue
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError:
                        continue
                    put(row.get("arabic", ""), row.get("english", ""))
                    n += 1
            sources.append(f"JSL glossary ({n} lines)")
        return cls(gloss, sources=sources, **kw)

    @classmethod
    def default(cls, lexicon=None, **kw) -> GlossaryTranslator:
        """From the shared data (whatever of it exists) and ``lexicon``'s English."""
        data = get_settings().data
        karsl = data / "karsl" / "labels" / "KARSL-502_Labels.json"
        jsl = data / "glossary" / "jsl_glossary.jsonl"
        if not karsl.is_file() and not jsl.is_file() and lexicon is None:
            raise TranslatorError(f"no bilingual word list found under {data} (karsl/labels, glossary/): "
                                  "set SYRISIGN_DATA to the folder holding the shared data")
        karsl, jsl = (karsl if karsl.is_file() else None), (jsl if jsl.is_file() else None)
        return cls._cached(karsl, jsl, lexicon, **kw)

    @classmethod
    def _cached(cls, karsl, jsl, lexicon, **kw) -> GlossaryTranslator:
        """:meth:`from_sources`, kept in ``$SYRISIGN_HOME/cache`` (merging the 7,000 pairs costs half a
        second, a cached copy a few milliseconds); the key covers the sources, the lexicon's English and the
        code that makes match keys."""
        import hashlib

        h = hashlib.sha256()
        for f in (karsl, jsl):
            st = f.stat() if f is not None else None
            h.update(repr((str(f), st and st.st_size, st and st.st_mtime_ns)).encode())
        if lexicon is not None:
            h.update(repr(sorted((e.words, e.english) for e in lexicon.entries if e.english and e.kind == "word"))
                     .encode())
        from syrisign import text as _text
        from syrisign import vocabulary as _vocabulary

        news = kw.pop("news", True)
        h.update(repr(news).encode())
        for src in (__file__, _text.__file__, _vocabulary.__file__):
            h.update(Path(src).read_bytes())
        path = get_settings().cache / f"glossary-{h.hexdigest()[:20]}.json"
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
            return cls(d["glossary"], sources=d["sources"], **kw)
        except (OSError, ValueError, KeyError, TypeError):
            pass
        t = cls.from_sources(karsl, jsl, lexicon, news=news, **kw)
        try:
            from syrisign.pose import atomic_write_bytes

            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, json.dumps({"glossary": t.glossary, "sources": t.sources},
                                                ensure_ascii=False).encode("utf-8"))
        except OSError:
            pass  # a read-only home: no cache, same result
        return t

    def lookup(self, key: str) -> str | None:
        return self.glossary.get(key)

    def _lookup_for(self, token) -> object:
        """``lookup``, except the word's stem without its final ة: that is another word (حملة "campaign" is not
        حمل "pregnancy", عدة not عد), so it is not a form of this one."""
        w = match_key(token.surface)
        if not w.endswith("ه"):
            return self.lookup

        def lookup(key: str):
            last = key.split(" ")[-1] if " " in key else key
            if " " not in key and not last.endswith("ه") and w.endswith(last + "ه"):
                return None
            return self.lookup(key)
        return lookup

    def translate_one(self, text: str) -> str:
        tokens = tokenize(text, max_chars=0)
        out: list[str] = []
        i = 0
        while i < len(tokens):
            t = tokens[i]
            if t.kind in ("punct", "symbol"):
                p = _PUNCT_EN.get(t.text, t.text)
                if out:
                    out[-1] += p
                else:
                    out.append(p)
                i += 1
                continue
            if t.kind in ("latin", "emoji", "other"):
                out.append(t.text)
                i += 1
                continue
            if t.kind == "number":
                whole, frac = parse_number(t.surface)
                out.append(whole + (f".{frac}" if frac else ""))
                i += 1
                continue
            m = longest_match(tokens, i, self._lookup_for(t), max_words=self.max_words, max_variants=2)
            if m is not None:
                out.append(m.value)
                i = m.end
                continue
            if not_signed_reason(t):  # grammatical particles the glossary does not list: no English word
                i += 1
                continue
            if self.unknown == "romanize":
                out.append(romanize(t.surface))
            elif self.unknown == "keep":
                out.append(t.surface)
            i += 1
        return " ".join(w for w in out if w)

    def translate(self, texts: list[str]) -> list[str]:
        return [self.translate_one(t) if t and t.strip() else "" for t in texts]


# -- Hugging Face seq2seq models --------------------------------------------------------------
def _offline() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


def _check_model_dir(model_dir: str | os.PathLike, what: str, example: str) -> Path:
    p = Path(model_dir).expanduser()
    if not p.is_dir():
        raise TranslatorError(f"no {what} model folder at {p}: download one (e.g. {example}) into a folder on "
                              "a machine with internet and pass that folder; nothing is downloaded here")
    if not (p / "config.json").is_file():
        raise TranslatorError(f"{p} has no config.json: not a transformers model folder ({what} expected)")
    return p


class _HFSeq2Seq(Translator):
    what = "seq2seq"
    example = ""

    def __init__(self, model_dir: str | os.PathLike, device: str | None = None, max_new_tokens: int = 128,
                 num_beams: int = 1, batch_size: int = 8, prefix: str = "", max_chars: int = DEFAULT_MAX_CHARS) -> None:
        _offline()
        self.model_dir = _check_model_dir(model_dir, self.what, self.example)
        self.max_new_tokens, self.num_beams, self.batch_size = max_new_tokens, num_beams, batch_size
        self.prefix, self.max_chars = prefix, max_chars
        from syrisign.ml.device import pick_device
        self.device = pick_device(device)
        try:
            self.tokenizer = self._load_tokenizer()
            self.model = self._load_model().to(self.device).eval()
        except SyriSignError:
            raise
        except Exception as e:
            raise TranslatorError(f"cannot load the {self.what} model in {self.model_dir}: "
                                  f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from None

    def _load_tokenizer(self):
        from transformers import AutoTokenizer
        return AutoTokenizer.from_pretrained(self.model_dir, local_files_only=True)

    def _load_model(self):
        raise NotImplementedError

    def translate(self, texts: list[str]) -> list[str]:
        import torch

        out = [""] * len(texts)
        todo = [(i, self.prefix + t.strip()) for i, t in enumerate(texts) if t and t.strip()]
        for i, t in todo:
            if self.max_chars and len(t) > self.max_chars:
                raise TranslatorError(f"text {i} has {len(t)} characters; the limit is {self.max_chars}")
        for b in range(0, len(todo), self.batch_size):
            chunk = todo[b:b + self.batch_size]
            enc = self.tokenizer([t for _, t in chunk], return_tensors="pt", padding=True, truncation=True)
            enc = {k: v.to(self.device) for k, v in enc.items()}
            with torch.no_grad():
                gen = self.model.generate(**enc, max_new_tokens=self.max_new_tokens, num_beams=self.num_beams,
                                          do_sample=False)
            for (i, _), s in zip(chunk, self.tokenizer.batch_decode(gen, skip_special_tokens=True)):
                out[i] = s.strip()
        return out


class MarianTranslator(_HFSeq2Seq):
    """A MarianMT model (``MarianMTModel`` + its tokenizer) from a local folder, e.g. OPUS-MT ar-en."""

    name = "marian"
    what = "MarianMT"
    example = "Helsinki-NLP/opus-mt-ar-en"

    def _load_model(self):
        from transformers import MarianMTModel
        return MarianMTModel.from_pretrained(self.model_dir, local_files_only=True)


class AraT5Translator(_HFSeq2Seq):
    """A T5 seq2seq model (``T5ForConditionalGeneration``) from a local folder, e.g. an AraT5 MT fine-tune.

    When the folder has only ``spiece.model`` and transformers cannot convert it (it needs a newer
    protobuf than mediapipe allows), the tokenizer is rebuilt from the sentencepiece pieces directly.
    """

    name = "arat5"
    what = "T5"
    example = "UBC-NLP/AraT5v2-base-1024 fine-tuned for ar-en"

    def _load_tokenizer(self):
        try:
            return super()._load_tokenizer()
        except Exception:
            spiece = self.model_dir / "spiece.model"
            if not spiece.is_file():
                raise
            import sentencepiece as spm
            from transformers import T5Tokenizer

            sp = spm.SentencePieceProcessor(model_file=str(spiece))
            vocab = [(sp.id_to_piece(i), sp.get_score(i)) for i in range(sp.get_piece_size())]
            cfg = {}
            if (self.model_dir / "tokenizer_config.json").is_file():
                cfg = json.loads((self.model_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
            return T5Tokenizer(vocab=vocab, extra_ids=int(cfg.get("extra_ids", 0) or 0))

    def _load_model(self):
        from transformers import T5ForConditionalGeneration
        return T5ForConditionalGeneration.from_pretrained(self.model_dir, local_files_only=True)


TRANSLATORS = {"glossary": GlossaryTranslator, "marian": MarianTranslator, "arat5": AraT5Translator}


def available_translators() -> list[str]:
    return list(TRANSLATORS)


def load_translator(name_or_dir: str | None = None, lexicon=None, **kw) -> Translator:
    """``"glossary"`` (default), ``"marian:/dir"``, ``"arat5:/dir"`` or a model folder (kind read from its
    config.json); ``None`` reads ``$SYRISIGN_TRANSLATOR``. ``lexicon`` adds its English to the glossary."""
    spec = (name_or_dir or os.environ.get("SYRISIGN_TRANSLATOR") or "glossary").strip()
    if spec == "glossary":
        return GlossaryTranslator.default(lexicon=lexicon, **kw)
    kind, sep, rest = spec.partition(":")
    if sep and kind in ("marian", "arat5"):
        if not rest:
            raise TranslatorError(f"{kind}: needs a model folder, e.g. {kind}:/path/to/model")
        return TRANSLATORS[kind](rest, **kw)
    p = Path(spec).expanduser()
    if p.is_dir():
        cfg = p / "config.json"
        model_type = ""
        if cfg.is_file():
            try:
                model_type = json.loads(cfg.read_text(encoding="utf-8")).get("model_type", "")
            except json.JSONDecodeError:
                pass
        if model_type == "marian":
            return MarianTranslator(p, **kw)
        if model_type in ("t5", "mt5"):
            return AraT5Translator(p, **kw)
        raise TranslatorError(f"{p}: cannot tell the model kind (config.json model_type {model_type!r}); "
                              "use marian:/dir or arat5:/dir")
    raise TranslatorError(f"unknown translator {spec!r}: use glossary, marian:/path/to/model or arat5:/path/to/model"
                          + (f" (no folder at {p})" if ("/" in spec or kind in TRANSLATORS) else ""))


__all__ = ["Translator", "TranslatorError", "GlossaryTranslator", "MarianTranslator", "AraT5Translator",
           "load_translator", "available_translators", "tidy_english", "tidy_arabic_terms"]
