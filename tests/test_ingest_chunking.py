import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.ingest.chunking import ChunkerSettings, chunk_text, paragraph_number
from tests.conftest import SEED

SMALL = ChunkerSettings(max_chars=120, overlap_chars=40, min_chars=50)


def test_chunks_are_exact_slices_of_the_seed() -> None:
    text = SEED.read_text(encoding="utf-8")
    chunks = chunk_text("seed.txt", text, ChunkerSettings())
    assert chunks
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert len(chunk.text) <= 700


def test_run_of_short_lines_stays_together() -> None:
    text = SEED.read_text(encoding="utf-8")
    first = chunk_text("seed.txt", text, ChunkerSettings())[0]
    assert "Hu Jintao" in first.text and "Zhou Yongkang" in first.text


def test_long_paragraph_is_split_at_sentences_with_overlap() -> None:
    sentences = [f"Sentence number {i} talks about topic {i}." for i in range(12)]
    text = " ".join(sentences)
    chunks = chunk_text("a.txt", text, SMALL)
    assert len(chunks) > 2
    for chunk in chunks:
        assert chunk.text.startswith("Sentence") and chunk.text.endswith(".")
        assert len(chunk.text) <= SMALL.max_chars
    assert any(a.end > b.start for a, b in itertools.pairwise(chunks)), "overlap"


def test_paragraphs_are_numbered() -> None:
    text = "One para here that is long enough to stand.\n\nSecond para.\n\nThird."
    chunks = chunk_text("a.txt", text, ChunkerSettings(max_chars=60, overlap_chars=0, min_chars=0))
    assert [c.paragraph for c in chunks] == [1, 2, 3]
    assert paragraph_number(text, text.index("Third")) == 3


def test_a_huge_word_is_cut_without_splitting_combining_marks() -> None:
    text = "e\u0301" * 200
    chunks = chunk_text("a.txt", text, ChunkerSettings(max_chars=51, overlap_chars=0, min_chars=0))
    for chunk in chunks:
        assert not chunk.text.startswith("\u0301")
        assert text[chunk.start : chunk.end] == chunk.text


words = st.text(alphabet=st.sampled_from("abc xyz.!?\n\u00a0é"), min_size=0, max_size=600)


@settings(max_examples=300, deadline=None)
@given(words)
def test_offsets_round_trip_and_never_cut_mid_word(text: str) -> None:
    chunks = chunk_text("p.txt", text, SMALL)
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.text == chunk.text.strip()
        assert len(chunk.text) <= SMALL.max_chars
        if chunk.start > 0 and text[chunk.start - 1].isalnum():
            # only a single word longer than max_chars may be cut inside
            assert not text[chunk.start].isspace()
            word_start = chunk.start
            while word_start > 0 and not text[word_start - 1].isspace():
                word_start -= 1
            word_end = chunk.start
            while word_end < len(text) and not text[word_end].isspace():
                word_end += 1
            assert word_end - word_start > SMALL.max_chars
    covered = "".join(text[c.start : c.end] for c in chunks)
    assert sum(ch.isalnum() for ch in covered) >= sum(ch.isalnum() for ch in text)
