"""Text helpers shared by chunking, retrieval and highlighting.

Normalisation here is for *matching only*: quotes are always cut from the original text by offset.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache

_WHITESPACE = re.compile(r"\s+")
_WORD = re.compile(r"\w+(?:['’]\w+)*")

# Sentence ends: terminal punctuation, optional closing quotes/brackets, then whitespace.
_SENTENCE_END = re.compile(r"[.!?。！？]+[\"'”’)\]]*(?=\s)")
# Tokens before a period that do not end a sentence.
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "st",
        "jr",
        "sr",
        "vs",
        "etc",
        "e.g",
        "i.e",
        "no",
        "fig",
        "al",
        "approx",
        "inc",
        "ltd",
        "co",
        "corp",
        "gen",
        "gov",
        "sen",
        "rep",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "u.s",
        "u.k",
        "a.m",
        "p.m",
        "ca",
        "cf",
    ]
)


def normalize_for_matching(text: str) -> str:
    """NFKC, drop format characters (zero-width, bidi controls), collapse whitespace."""
    text = unicodedata.normalize("NFKC", text)
    text = _MAYBE_INVISIBLE.sub(_drop_invisible, text)
    return _WHITESPACE.sub(" ", text).strip()


# Every character that can be a format (Cf), control (Cc) or lone surrogate (Cs) character other
# than tab and newline:
# the ASCII controls and all of non-ASCII. Only these runs are checked one by one, so the common
# ASCII text is cleaned at C speed (tokenising 100,000 chunks for BM25 spent half its time here).
_MAYBE_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\U0010ffff]+")


def _drop_invisible(match: re.Match[str]) -> str:
    return "".join(ch for ch in match.group() if unicodedata.category(ch) not in ("Cf", "Cc", "Cs"))


@lru_cache(maxsize=1)
def _stemmer() -> object:
    import Stemmer  # PyStemmer: C implementation of the Snowball stemmers

    return Stemmer.Stemmer("english")


# A compact English stopword list (bm25s' own list, plus question words that carry no topic).
STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "s",
        "t",
        "also",
    ]
)


def words(text: str) -> list[str]:
    """Lower-cased word tokens of the normalised text (no stopword removal, no stemming)."""
    return _WORD.findall(normalize_for_matching(text).lower())


def keyword_tokens(text: str) -> list[str]:
    """Stemmed content-word tokens: what BM25 indexes and what highlighting matches. The
    last texts' tokens are kept (a new list each call): answering one question tokenises the
    same question, passages, sentences and words many times over (~86 calls for ~11 texts)."""
    return list(_keyword_tokens(text))


KEPT_TOKENISED = 512  # texts whose tokens are kept (a passage's are a few kB)


@lru_cache(maxsize=KEPT_TOKENISED)
def _keyword_tokens(text: str) -> tuple[str, ...]:
    kept = [w for w in words(text) if w not in STOPWORDS]
    return tuple(_stemmer().stemWords(kept))  # type: ignore[attr-defined]


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int]]:
    """Yield (start, end) offsets of sentences in text[start:end], trimmed of whitespace.

    Rule-based on purpose: deterministic, fast, and good enough to place chunk boundaries and
    highlights; a sentence never ends after a known abbreviation or a single initial.
    """
    end = len(text) if end is None else end
    cursor = start
    for match in _SENTENCE_END.finditer(text, start, end):
        stop = match.end()
        if _is_abbreviation(text, cursor, match.start()):
            continue
        span = _trim(text, cursor, stop)
        if span:
            yield span
        cursor = stop
    span = _trim(text, cursor, end)
    if span:
        yield span


def _is_abbreviation(text: str, sentence_start: int, period: int) -> bool:
    if text[period] != ".":
        return False
    word_start = period
    while word_start > sentence_start and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start:period].lower().lstrip("(\"'“‘")
    if word in _ABBREVIATIONS:
        return True
    # A single letter ("J. Smith") or a dotted acronym ("U.S.") does not end a sentence.
    return (len(word) == 1 and word.isalpha()) or (len(word) <= 4 and "." in word)


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def trim_span(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The span without surrounding whitespace, or None if nothing is left."""
    return _trim(text, start, end)


ELLIPSIS = "…"


def shorten_line(
    text: str, limit: int, *, word_cut_after: int | None = None, trim: str = ""
) -> str:
    """`text` as one line (whitespace collapsed) of at most `limit` characters, ending in "…"
    where it was cut. Each caller keeps its own rule: with `word_cut_after`, the cut moves back
    to the last space before the limit when that space lies past `word_cut_after` characters;
    `trim` lists characters stripped from the end of the kept part before the "…"."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    end = limit - 1
    if word_cut_after is not None:
        space = flat.rfind(" ", 0, limit - 1)
        if space > word_cut_after:
            end = space
    return flat[:end].rstrip(trim) + ELLIPSIS
