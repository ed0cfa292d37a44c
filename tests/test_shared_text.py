import re
import unicodedata
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.shared.text import (
    ELLIPSIS,
    keyword_tokens,
    normalize_for_matching,
    sentence_spans,
    shorten_line,
)


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


def test_keyword_tokens_of_a_text_seen_again_are_not_computed_again() -> None:
    """Answering a question tokenises the same texts many times: the tokens are kept, and
    each caller still gets its own list (changing it changes no one else's)."""
    from bot.shared import text as module

    passage = "The party secretary visited the grassroots organizations in 2006."
    first = keyword_tokens(passage)
    before = module._keyword_tokens.cache_info().hits
    first.append("changed")
    again = keyword_tokens(passage)
    assert module._keyword_tokens.cache_info().hits == before + 1
    assert again == ["parti", "secretari", "visit", "grassroot", "organiz", "2006"]
    assert again is not keyword_tokens(passage)


@pytest.mark.parametrize(
    ("text", "limit", "rule", "expected"),
    [
        ("short", 10, {}, "short"),
        ("  two\n lines\t", 20, {}, "two lines"),
        ("exactly ten", 11, {}, "exactly ten"),
        ("one two three four", 10, {}, "one two t…"),
        ("one two three four", 10, {"trim": " "}, "one two t…"),
        ("one two  three four", 9, {}, "one two …"),
        ("one two  three four", 9, {"trim": " "}, "one two…"),
        ("one two three four", 10, {"word_cut_after": 2}, "one two…"),
        ("one two three four", 10, {"word_cut_after": 7}, "one two t…"),
        ("Alpha, beta gamma", 12, {"word_cut_after": 3, "trim": " ,"}, "Alpha…"),
        ("nospacesatalllong", 8, {"word_cut_after": 2}, "nospace…"),
        ("", 5, {}, ""),
    ],
)
def test_shorten_line_table(text: str, limit: int, rule: dict[str, Any], expected: str) -> None:
    assert shorten_line(text, limit, **rule) == expected


# The five rules the helper replaced (issue 17, plan B1), written as they were, as oracles.
def _citation(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit - 1)
    return text[: cut if cut > limit // 2 else limit - 1].rstrip(" ,;:-—") + "…"


def _thread_name(question: str) -> str:
    text = " ".join(question.split()) or "question"
    if len(text) <= 90:
        return text
    cut = text.rfind(" ", 0, 89)
    return text[: cut if cut > 40 else 89] + "…"


def _hard_cut(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


_WORDY = st.text(alphabet=st.sampled_from("ab ,;—-\n\t\u00a0\u3000é"), max_size=260)


@given(_WORDY, st.integers(min_value=2, max_value=120))
def test_shorten_line_keeps_each_sites_old_rule(text: str, limit: int) -> None:
    assert shorten_line(text, limit, word_cut_after=limit // 2, trim=" ,;:-—") == _citation(
        text, limit
    )
    assert (shorten_line(text, 90, word_cut_after=40) or "question") == _thread_name(text)
    assert shorten_line(text, limit, trim=" ") == _hard_cut(text, limit)
    line = " ".join(text.split())
    assert shorten_line(line, limit) == (line if len(line) <= limit else line[: limit - 1] + "…")


@given(st.text(max_size=300), st.integers(min_value=1, max_value=200), st.booleans())
def test_shorten_line_fits_and_marks_every_cut(text: str, limit: int, words: bool) -> None:
    out = shorten_line(text, limit, word_cut_after=0 if words else None)
    assert len(out) <= limit
    flat = " ".join(text.split())
    assert out == flat or (out.endswith(ELLIPSIS) and flat.startswith(out[:-1]))
