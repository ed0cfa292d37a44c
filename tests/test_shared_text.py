import re
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from bot.shared.text import keyword_tokens, normalize_for_matching, sentence_spans


def _normalize_reference(text: str) -> str:
    """The plain per-character definition the fast path must agree with."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(
        ch for ch in text if unicodedata.category(ch) not in ("Cf", "Cc", "Cs") or ch in "\n\t"
    )
    return re.sub(r"\s+", " ", text).strip()


def test_normalize_drops_invisible_characters_and_collapses_space() -> None:
    assert normalize_for_matching("a\u00a0\u00a0b\u200b\u202e\n\tc") == "a b c"
    assert normalize_for_matching("\u200b\u200c\u200d\ufeff") == ""


def test_normalize_matches_the_per_character_definition() -> None:
    for text in [
        "plain ASCII text, with punctuation.",
        "tab\tnew\nline\r\nform\x0cfeed\x0bvt\x00nul\x7fdel\x85nel",
        "curly \u2019quotes\u201d and \u00a9 \ufb01 ligature \u00bd",
        "\u8346\u5dde\u5e02\u200b\u4e2d\u6587 mixed \u202e bidi \u2066x\u2069",
        "lone \ud800 surrogate, e\u0301 combining, emoji \U0001f600\u200d\U0001f4bb",
    ]:
        assert normalize_for_matching(text) == _normalize_reference(text)


@given(st.text(max_size=200))
def test_normalize_agrees_with_the_reference_on_any_text(text: str) -> None:
    assert normalize_for_matching(text) == _normalize_reference(text)


def test_sentences_respect_abbreviations_and_initials() -> None:
    text = "Dr. Smith met J. Doe in the U.S. on Monday. They talked! Did they agree? Yes."
    spans = [text[a:b] for a, b in sentence_spans(text)]
    assert spans == [
        "Dr. Smith met J. Doe in the U.S. on Monday.",
        "They talked!",
        "Did they agree?",
        "Yes.",
    ]


def test_sentence_offsets_are_exact_within_a_range() -> None:
    text = "xx First one. Second one.  yy"
    spans = list(sentence_spans(text, 3, 26))
    assert [text[a:b] for a, b in spans] == ["First one.", "Second one."]


def test_keyword_tokens_stem_and_drop_stopwords() -> None:
    assert keyword_tokens("What are the organizations doing?") == ["organiz"]
