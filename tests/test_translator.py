"""Arabic → English: the offline glossary translator on the real word lists, and the Marian / T5 loaders
on tiny random-weight models built here (their output is garbage; shapes, types and loading are tested)."""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from syrisign.errors import SyriSignError
from syrisign.settings import get_settings
from syrisign.text import match_key
from syrisign.translator import (
    AraT5Translator, GlossaryTranslator, MarianTranslator, TranslatorError, load_translator, tidy_arabic_terms,
    tidy_english,
)

SENTENCES = ["وزارة الصحة أعلنت اليوم عن إصابات جديدة", "the ministry of health announced new cases today",
             "قال الطبيب إن الرئتين سليمتان", "the doctor said the lungs are healthy",
             "الحكومة السورية تعلن نتائج الانتخابات", "the syrian government announces the election results"] * 4


@pytest.fixture(scope="module")
def glossary() -> GlossaryTranslator:
    data = get_settings().data
    if not (data / "glossary" / "jsl_glossary.jsonl").is_file():
        pytest.skip(f"glossary not found under {data}")
    return GlossaryTranslator.default()


def test_tidy_glossary_fields():
    assert tidy_arabic_terms("وزارة الصحة (١)") == ["وزارة الصحة"]
    assert tidy_arabic_terms("صحة، صحي") == ["صحة", "صحي"]
    assert tidy_arabic_terms("آدومية (آدوم)") == ["آدومية"]
    assert tidy_english("MINISTRY OF HEALTH (2)  ") == "ministry of health"
    assert tidy_english("NEW (to be) (1)") == "new"
    assert tidy_english("HEALTH, HEALTHY") == "health"
    assert tidy_english("E-Government/ Electronic Government") == "e-government"


def test_glossary_on_real_word_lists(glossary):
    assert len(glossary) > 5000 and len(glossary.sources) == 3 and glossary.sources[0].startswith("news senses")
    assert glossary("وزارة الصحة") == "ministry of health"
    assert glossary("وَزارةُ الصِّحَّة") == "ministry of health"  # tashkeel does not matter
    assert glossary("رئتان") == "lungs"
    assert glossary("والرئتان") == "lungs" and glossary("الرئتين") == "lungs"  # clitics and the dual
    assert glossary("جمجمة") == "skull"  # KArSL's misspelt label is fixed
    out = glossary("أعلنت وزارة الصحة اليوم عن 200 إصابة جديدة")
    assert out == "announced ministry of health today about 200 case new"
    assert glossary("قال الطبيب إن الرئتين سليمتان") == "said doctor lungs slymtan"  # إن has no English word
    assert glossary("الرئتان سليمتان، hello 😀؟") == "lungs slymtan, hello 😀?"
    assert glossary.translate(["", "كبد", "  "]) == ["", "liver", ""]


def test_glossary_news_senses_and_proper_nouns(glossary):
    # the sign-language glossaries' first senses are not the news ones; names stay names
    for ar, en in (("دمشق", "damascus"), ("حملة", "campaign"), ("تلقيح", "vaccination"), ("الأحد", "sunday"),
                   ("عدة", "several"), ("الصليب الأحمر", "red cross"), ("حمص", "homs"), ("أيلول", "september"),
                   ("ودمشق", "damascus"), ("للحملة", "campaign")):
        assert glossary(ar) == en, ar
    # a word's stem without its ta marbuta is another word: no English rather than the wrong one
    only_stem = GlossaryTranslator({match_key("حمل"): "pregnant"})
    assert only_stem("حملة") == "hmla" and only_stem("الحملة") == "alhmla" and only_stem("حمله") == "hmlh"
    assert only_stem("الحمل") == "pregnant"  # the article is still a clitic
    plain = GlossaryTranslator.default(news=False)
    assert plain("دمشق") == "syria" and plain("تلقيح") == "pollination"  # what the glossaries alone say


def test_glossary_unknown_word_policies():
    g = GlossaryTranslator({"ريتان": "lungs"}, unknown="keep")
    assert g("الرئتان في دمشق") == "lungs في دمشق"
    assert GlossaryTranslator({"ريتان": "lungs"}, unknown="drop")("الرئتان في دمشق") == "lungs"
    assert GlossaryTranslator({"ريتان": "lungs"})("الرئتان في دمشق") == "lungs fy dmshq"
    with pytest.raises(TranslatorError):
        GlossaryTranslator({}, unknown="guess")


def test_glossary_includes_lexicon_english_first(tmp_path):
    from syrisign.data.sources import spoken_to_signed_lexicon
    from syrisign.lexicon import Lexicon
    src = Lexicon.load(spoken_to_signed_lexicon())
    lex = Lexicon.create(tmp_path / "lex")
    lex.add("رئتان", src.pose(src.lookup("ب")[0]), english="pair of lungs")
    g = GlossaryTranslator.default(lexicon=lex)
    assert g("الرئتين") == "pair of lungs" and g("وزارة الصحة") == "ministry of health"


def test_load_translator_by_name_and_setting(monkeypatch, tmp_path):
    monkeypatch.delenv("SYRISIGN_TRANSLATOR", raising=False)
    assert isinstance(load_translator(), GlossaryTranslator)
    monkeypatch.setenv("SYRISIGN_TRANSLATOR", f"marian:{tmp_path / 'none'}")
    with pytest.raises(TranslatorError, match="no MarianMT model folder at .*nothing is downloaded"):
        load_translator()
    with pytest.raises(TranslatorError, match="no T5 model folder"):
        load_translator(f"arat5:{tmp_path / 'none'}")
    with pytest.raises(TranslatorError, match="unknown translator"):
        load_translator("google")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SyriSignError, match="no config.json"):
        load_translator(f"marian:{tmp_path / 'empty'}")


def _spm(model_type: str, **ids) -> tuple[bytes, list[tuple[str, float]]]:
    import sentencepiece as spm
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(SENTENCES), model_writer=buf, vocab_size=80,
                                   model_type=model_type, character_coverage=1.0, hard_vocab_limit=False,
                                   minloglevel=2, **ids)
    sp = spm.SentencePieceProcessor(model_proto=buf.getvalue())
    return buf.getvalue(), [(sp.id_to_piece(i), sp.get_score(i)) for i in range(sp.get_piece_size())]


@pytest.fixture(scope="module")
def tiny_marian(tmp_path_factory) -> Path:
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    d = tmp_path_factory.mktemp("marian")
    proto, pieces = _spm("bpe", unk_id=0, bos_id=-1, eos_id=-1, pad_id=-1)
    (d / "source.spm").write_bytes(proto)
    (d / "target.spm").write_bytes(proto)
    vocab = {"</s>": 0, "<unk>": 1, "<pad>": 2}
    for p, _ in pieces:
        vocab.setdefault(p, len(vocab))
    (d / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    MarianTokenizer(source_spm=str(d / "source.spm"), target_spm=str(d / "target.spm"),
                    vocab=str(d / "vocab.json")).save_pretrained(d)
    cfg = MarianConfig(vocab_size=len(vocab), d_model=16, encoder_layers=1, decoder_layers=1,
                       encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32,
                       max_position_embeddings=64, pad_token_id=2, eos_token_id=0, decoder_start_token_id=2,
                       forced_eos_token_id=0)
    MarianMTModel(cfg).save_pretrained(d)
    return d


@pytest.fixture(scope="module")
def tiny_t5(tmp_path_factory) -> Path:
    from transformers import T5Config, T5ForConditionalGeneration, T5Tokenizer

    d = tmp_path_factory.mktemp("t5")
    proto, pieces = _spm("unigram", pad_id=0, eos_id=1, unk_id=2, bos_id=-1)
    tok = T5Tokenizer(vocab=pieces, extra_ids=0)
    tok.save_pretrained(d)
    (d / "spiece.model").write_bytes(proto)
    cfg = T5Config(vocab_size=len(tok), d_model=16, d_kv=8, d_ff=32, num_layers=1, num_decoder_layers=1,
                   num_heads=2, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
    T5ForConditionalGeneration(cfg).save_pretrained(d)
    return d


def test_marian_loader_round_trip(tiny_marian):
    tr = load_translator(f"marian:{tiny_marian}", device="cpu", max_new_tokens=6)
    assert isinstance(tr, MarianTranslator) and tr.model.config.d_model == 16
    out = tr.translate(["وزارة الصحة", "", "الرئتان سليمتان", "قال الطبيب"])
    assert len(out) == 4 and all(isinstance(s, str) for s in out) and out[1] == ""
    assert tr.translate(["وزارة الصحة"]) == out[:1]  # greedy: the same text gives the same output
    assert isinstance(load_translator(str(tiny_marian), device="cpu"), MarianTranslator)  # kind from config.json
    import os
    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_arat5_loader_round_trip(tiny_t5, tmp_path):
    tr = load_translator(f"arat5:{tiny_t5}", device="cpu", max_new_tokens=5, batch_size=2)
    assert isinstance(tr, AraT5Translator)
    out = tr.translate(["وزارة الصحة", "الرئتان سليمتان", "قال الطبيب"])
    assert len(out) == 3 and all(isinstance(s, str) for s in out)
    assert isinstance(load_translator(str(tiny_t5), device="cpu"), AraT5Translator)
    # a folder with only spiece.model (no tokenizer.json): the tokenizer is rebuilt from the pieces
    import shutil
    d = tmp_path / "t5-spiece-only"
    shutil.copytree(tiny_t5, d)
    (d / "tokenizer.json").unlink()
    tr2 = AraT5Translator(d, device="cpu", max_new_tokens=5)
    assert tr2.tokenizer("الرئتان").input_ids == tr.tokenizer("الرئتان").input_ids
    assert len(tr2.translate(["الرئتان"])) == 1


def test_corrupt_model_folder_is_a_clear_error(tiny_marian, tmp_path):
    import shutil
    d = tmp_path / "broken"
    shutil.copytree(tiny_marian, d)
    (d / "model.safetensors").write_bytes(b"not weights")
    with pytest.raises(TranslatorError, match="cannot load the MarianMT model"):
        MarianTranslator(d, device="cpu")
