from bot.text import keyword_tokens, normalize_for_matching, sentence_spans


def test_normalize_drops_invisible_characters_and_collapses_space() -> None:
    assert normalize_for_matching("a\u00a0\u00a0b\u200b\u202e\n\tc") == "a b c"
    assert normalize_for_matching("\u200b\u200c\u200d\ufeff") == ""


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
