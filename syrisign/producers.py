"""Producers turn sign units into poses; the pipeline loads them by name, lazily.

A *sign unit* is one sign to produce: a lexicon word, one number sign, one fingerspelled letter.
Every producer implements ``produce(units) -> list[PoseSequence]`` (one sequence per unit, same
order) and may use the unit's recorded lexicon entry (retrieval) or only its text (generation).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Protocol

from syrisign.errors import SyriSignError
from syrisign.pose import PoseSequence


@dataclass
class SignUnit:
    text_ar: str  # the Arabic word/letter/number this unit signs
    text_en: str = ""  # English gloss when known (captions, English prompts)
    kind: str = "lexicon"  # lexicon | number | fingerspell | substituted | fuzzy
    entry: Any = None  # syrisign.lexicon.LexiconEntry when the unit has a recording
    item_index: int = 0  # index of the gloss-plan item this unit belongs to
    meta: dict = field(default_factory=dict)


class Producer(Protocol):
    name: str

    def produce(self, units: list[SignUnit]) -> list[PoseSequence]: ...


# name -> "module:factory"; factories take keyword options (checkpoint=..., lexicon=...)
PRODUCERS = {
    "retrieval": "retrieval.producer:RetrievalProducer",
    "generative": "t2m_gpt.producer:GenerativeProducer",
    "motionclip": "motionclip.producer:MotionCLIPProducer",
}


def available_producers() -> list[str]:
    return list(PRODUCERS)


def load_producer(name: str, **options) -> Producer:
    """Import and build a producer by name; the error lists the names."""
    if name not in PRODUCERS:
        raise SyriSignError(f"unknown method {name!r}; choose one of {', '.join(PRODUCERS)}")
    module, factory = PRODUCERS[name].split(":")
    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        raise SyriSignError(f"method {name!r} is not available: {e}") from None
    return getattr(mod, factory)(**options)
