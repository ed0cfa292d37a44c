"""Signals of whether a passage answers a question, as numbers for the calibrated score.

Retrieval finds the passage most *about* a question; a question about the documents' own subject
that they do not answer ("Who is the mayor of Jingzhou?") still finds a passage about Jingzhou.
These cheap signals look for what the question *asks for*: its words in the passage and in the
documents at all, an answer of the asked-for type (a number, a date, a name), the sentence that
says it. `bot.answering.calibration` turns them into a probability. Pure functions; no model is loaded here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from bot.answering.intents import proper_names
from bot.answering.mismatch import (
    missing_rare,
    modifier_swapped,
    name_missing,
    name_rarity_missing,
    negation_missing,
    number_missing,
    opposite_stated,
)
from bot.shared.text import STOPWORDS, keyword_tokens, sentence_spans, words

# The order of FEATURES is the order of the coefficients stored in answerability_model.json.
FEATURES = (
    "dense",  # cosine between the question and the whole passage
    "sentence_cosine",  # best cosine between the question and one sentence of the passage
    "coverage",  # idf-weighted share of the question's terms that occur in the passage
    "sentence_coverage",  # the same share in the passage's best sentence
    "unknown_share",  # idf-weighted share of the question's terms found in no document
    "focus_missing",  # the thing asked for ("mayor", "GDP") is absent from the passage
    "focus_unknown",  # ... and from every document
    "type_missing",  # the best window holds no answer of the asked-for type (number, date, name,
    # place: for where a place phrase counts, "in rural areas")
    "focus_gain",  # sentence_cosine less the same cosine for the question without its focus
    "focus_match",  # closest passage words to the focus words, by embedding (see focus_match)
    "keyword_top",  # the passage is the best keyword (BM25) match of the question
    "fact",  # a document-structure intent (byline, date, "the third measure") chose it
    "window_coverage",  # coverage in the best sentence and its neighbours (where the answer is)
    "missing_rare",  # idf share of the rarest question term absent from that window
    "number_missing",  # a number of the question (a year, "11th century") absent from it
    "negation_missing",  # the question says not/never/no longer, the window does not
    "name_missing",  # a name of the question that the documents hold is absent from it
    "name_rarity_missing",  # ... weighed by the idf of the rarest such name (0-1)
    "modifier_swapped",  # "Christian spirit" asked, "martial spirit" said (same slot, other word)
    "sentence_type_missing",  # type_missing in the best sentence alone, not its neighbours
    "opposite_stated",  # the question says "least", the window "most" (and not "least")
    # Variants of type_missing measured for issue 14 (docs/answerability.md), not in the model:
    "type_missing_names",  # the earlier rule: who and where need a capitalised name
    "type_missing_people",  # for who, also a person or group noun of a closed class ("members")
    "type_missing_agent",  # ... that class or an agent noun by its suffix ("farmers")
)

FOCUS_WORDS = 4  # a focus is a short noun phrase; beyond this the question lists its topic
NUMBER, DATE, NAME, PLACE = "number", "date", "name", "place"

_TYPE_QUESTIONS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        DATE,
        re.compile(
            r"\bwhen\b|\b(what|which|in what|by what)\s+(year|years|date|century|decade|month|"
            r"day|time|period|era|age)\b|\bhow long ago\b",
            re.I,
        ),
    ),
    (
        NUMBER,
        re.compile(
            r"\bhow\s+(many|much|long|tall|high|old|far|big|large|often|wide|deep|heavy)\b|"
            r"\b(what|which)\b[^?.]{0,20}?\b(percentage|percent|proportion|number|amount|"
            r"population|size|area|length|height|price|cost|fee|revenue|profit|income|salary|"
            r"budget|total|gdp)\b",
            re.I,
        ),
    ),
    (NAME, re.compile(r"\b(who|whom|whose)\b", re.I)),
    (
        PLACE,
        re.compile(
            r"\bwhere\b|\b(what|which|in what)\s+(country|countries|city|cities|town|region|"
            r"place|province|island|continent|state)\b",
            re.I,
        ),
    ),
)

_NUMBER_WORDS = (
    r"two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
    r"sixty|seventy|eighty|ninety|hundreds?|thousands?|millions?|billions?|dozens?|half|"
    r"quarter|double|twice"
)
# "one of the claimants" is a pronoun, not a count.
_NUMBER = re.compile(rf"\d|\b({_NUMBER_WORDS}|one(?!\s+of\b))\b", re.I)
_MONTH = (
    r"january|february|march|april|may|june|july|august|september|october|november|december|"
    r"jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_DATE_TEXT = re.compile(
    rf"\b\d{{3,4}}s?\b|\b\d{{1,2}}(st|nd|rd|th)\s+centur|\bcentur(y|ies)\b|\b({_MONTH})\b|"
    r"\b\d{1,2}:\d{2}\b|\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b|"
    r"\b(yesterday|today|decades?|years? ago|medieval|ancient)\b",
    re.I,
)
_WH = re.compile(r"\b(what|which|who|whom|whose|when|where|how|why)\b", re.I)
_CAPITALISED = re.compile(r"\b[A-Z][\w'’-]+")

# Words that name the kind of answer rather than the thing asked about ("what year", "how many").
_TYPE_WORDS = frozenset(
    keyword_tokens(
        "year years date century decade month day time period many much number amount kind "
        "type name percentage percent people person place country city long tall old"
    )
    # ... and words about the document rather than its subject ("according to the article").
    + keyword_tokens("article document text passage page story mentioned according describe")
)


@dataclass(frozen=True, slots=True)
class Evidence:
    """What is known about one candidate passage for one question."""

    question: str
    passage: str
    dense: float
    sentence_cosine: float
    topic_sentence_cosine: float  # the best sentence's cosine to without_focus(question)
    keyword_top: bool
    fact: bool
    focus_match: float = 1.0  # focus_match() of the focus words against the passage's words


def answer_type(question: str) -> str | None:
    """The kind of answer the question asks for (NUMBER, DATE, NAME, PLACE), or None."""
    found = [(m.start(), kind) for kind, rx in _TYPE_QUESTIONS if (m := rx.search(question))]
    return min(found)[1] if found else None


def holds_type(
    text: str,
    kind: str | None,
    question: str,
    *,
    places: bool = True,
    people: str = "",
) -> bool:
    """Whether `text` can hold an answer of `kind`: a number, a date, a name not in the question,
    or for a where-question a place phrase (`holds_place_phrase`: "in rural areas", "at the
    border"; real where-answers are often lower-case, and `places=False` gives the earlier
    names-only rule). With `people` ("class" or "suffix"), a who-question is also answered by a
    person or group noun (`holds_person_noun`: "Party members"): measured, not used, because in
    a document about such people every passage holds one (docs/answerability.md)."""
    if kind is None:
        return True
    if kind == NUMBER:
        return bool(_NUMBER.search(text))
    if kind == DATE:
        return bool(_DATE_TEXT.search(text))
    asked = {w.lower() for w in re.findall(r"\w+", question)}
    if any(
        (word := m.group().lower()) not in asked and word not in STOPWORDS
        for m in _CAPITALISED.finditer(text)
    ):
        return True
    if kind == PLACE and places:
        return holds_place_phrase(text, question)
    if kind == NAME and people:
        return holds_person_noun(text, question, suffix=people == "suffix")
    return False


# Prepositions that introduce a place ("in rural areas", "at the border", "across the
# county"). Not "on", "to" or "for": they mostly introduce times, aims and topics.
_PLACE_PREPOSITION = re.compile(
    r"\b(?:in|at|near|across|throughout|along|inside|outside|between|within|around|among|"
    r"beside|beyond|into|from)\s+(?:(?:the|a|an|its|their|his|her|our|this|that|these|those|"
    r"some|many|all|each|every|both|other|such)\s+)?([^\W\d_][\w'’-]*)",
    re.I,
)
# Words after a preposition that make a time, not a place ("in recent years", "in May").
_TIME_AFTER_PREPOSITION = re.compile(
    rf"^(?:{_MONTH}|years?|months?|weeks?|days?|times?|centur(?:y|ies)|decades?|past|future|"
    r"recent|early|late|spring|summer|autumn|winter|morning|evening|order|addition|fact|"
    r"particular|general|short|turn|total|part)$",
    re.I,
)


def holds_place_phrase(text: str, question: str) -> bool:
    """A place preposition followed by a content word the question does not use ("Where should
    the centres be built?" -> "in rural areas"): where-answers that are no name. A word after
    the preposition that makes a time or a fixed phrase ("in recent years", "in order to") is
    not a place."""
    asked = set(keyword_tokens(question))
    for match in _PLACE_PREPOSITION.finditer(text):
        word = match.group(1)
        if word.lower() in STOPWORDS or _TIME_AFTER_PREPOSITION.match(word):
            continue
        stems = keyword_tokens(word)
        if stems and not asked.intersection(stems):
            return True
    return False


# Nouns for people and groups of people, a closed class of general English (not taken from any
# question's answer): who-answers are often such a noun ("village officials", "Party members").
_PEOPLE_NOUNS = frozenset(
    words(
        """people person persons member members citizen citizens official officials resident
    residents staff personnel public crowd crowds family families child children man men woman
    women youth youths elder elders graduate graduates volunteer volunteers soldier
    soldiers troop troops army armies team teams group groups committee committees council
    councils government governments authority authorities agency agencies company companies
    firm firms organization organizations organisation organisations ministry ministries
    department departments king kings queen queens emperor emperors pope popes duke dukes lord
    lords prince princes princess bishop bishops knight knights noble nobles nobility clergy
    monk monks peasant peasants mercenaries mercenary friend friends colleague colleagues
    household households community communities couple couples baby babies boy boys girl girls
    patient patients"""
    )
)
# Agent nouns ("farmers", "voter", "scientists", "historians", "applicants", "students"):
# a suffix rule, so a new noun of the kind needs no list. It also takes some nouns that are
# not people ("numbers", "centers"): measured, not assumed away.
_AGENT_SUFFIX = re.compile(r"^[a-z]{3,}(?:er|or|ist|ian|ant|ent|eer)s?$")
_NOT_AGENT = re.compile(r"(?:ment|ments|ther|ever|over|under)$")


def holds_person_noun(text: str, question: str, *, suffix: bool = True) -> bool:
    """A person or group noun the question does not use: from `_PEOPLE_NOUNS`, or (with
    `suffix`) an agent noun by its ending."""
    asked = set(keyword_tokens(question))
    for token in words(text):
        word = re.sub(r"['’]s$", "", token)  # "government's" -> government
        if word in STOPWORDS:
            continue
        person = word in _PEOPLE_NOUNS or (
            suffix and bool(_AGENT_SUFFIX.match(word)) and not _NOT_AGENT.search(word)
        )
        if person and not asked.intersection(keyword_tokens(word)):
            return True
    return False


def focus_words(question: str) -> list[str]:
    """The thing asked for: the first run of content words after the question word, less the
    question's names and words for the answer's kind ("Who is the party secretary of X?" ->
    party, secretary; "How many people live in X?" -> people, live; "What is X's GDP?" -> GDP).
    Kept for the last questions (a new list each call): one question asks for them ~6 times
    (the judge's companions, its topic and focus, the signals).
    """
    return list(_focus_words(question))


@lru_cache(maxsize=256)
def _focus_words(question: str) -> tuple[str, ...]:
    match = _WH.search(question)
    rest = question[match.end() :] if match else question
    # Names are the question's topic, not its focus; but what follows a possessive is the
    # thing asked about even when capitalised ("What is Jingzhou's GDP?"), and even after
    # other content words ("Who was the first Norman king of England's wife?" -> wife).
    owned = {w.lower() for w in re.findall(r"\w['’]s\s+(\w+)", question)}
    possessive = re.search(r"\w['’]s\s+(?=\w)", rest)
    if possessive:
        rest = rest[possessive.end() :]
    names = {t for n in proper_names(question) if n.lower() not in owned for t in keyword_tokens(n)}
    run: list[str] = []
    for word in re.findall(r"\w+(?:['’]\w+)*", rest):
        stems = [t for t in keyword_tokens(word) if t not in names and t not in _TYPE_WORDS]
        if stems:
            run.append(word)
            if len(run) == FOCUS_WORDS:
                break
        elif run and (keyword_tokens(word) or word.lower() in STOPWORDS):
            break  # the run ended at a stopword or a name
    return tuple(run)


def focus_terms(question: str) -> list[str]:
    """focus_words stemmed like the keyword index, to look them up in passages and in idf."""
    return [t for w in focus_words(question) for t in keyword_tokens(w)]


def passage_words(text: str) -> list[str]:
    """The distinct content words of a passage, lower-cased (what a focus word is matched to)."""
    return list(dict.fromkeys(w for w in words(text) if w not in STOPWORDS and not w.isdigit()))


def focus_match(focus: np.ndarray, passage: np.ndarray) -> float:
    """How well the passage's words cover the focus words: for each focus word its closest
    passage word (cosine of the words' embeddings), the worst of these. A close paraphrase
    ("fled" for "flee", "killed" for "died") scores high, a missing notion ("mayor") low;
    1 when the question has no focus."""
    if not len(focus):
        return 1.0
    if not len(passage):
        return 0.0
    return float((focus @ passage.T).max(axis=1).min())


@lru_cache(maxsize=256)
def without_focus(question: str) -> str:
    """The question with the words of its focus taken out ("Who is the mayor of Jingzhou?" ->
    "Who is the of Jingzhou?"): how close a sentence is to this, against how close it is to
    the whole question, tells whether the sentence speaks of the thing asked for (or a close
    paraphrase of it) or only of the question's topic. Kept for the last questions: the
    judge asks for it three times a question."""
    focus = set(focus_terms(question))
    if not focus:
        return question
    kept = [
        m.group()
        for m in re.finditer(r"\S+", question)
        if not focus.intersection(keyword_tokens(m.group()))
    ]
    return " ".join(kept)


def coverage(text: str, tokens: Sequence[str], weights: Mapping[str, float]) -> float:
    """Share of the question's terms, weighted by idf, that occur in `text` (or a misspelling,
    accented or inflected form of them: see `close_enough`)."""
    wanted = set(tokens)
    total = math.fsum(weights.get(t, 1.0) for t in wanted)
    if total <= 0:
        return 0.0
    own = set(keyword_tokens(text))
    present = [t for t in wanted if t in own or any(close_enough(t, o) for o in own)]
    return math.fsum(weights.get(t, 1.0) for t in present) / total


@lru_cache(maxsize=65536)
def close_enough(a: str, b: str) -> bool:
    """Two stems of one word: same but for accents, or long and one edit apart, or sharing a
    long beginning ("purhcas"/"purchas", "fiancé"/"fiance", "broadcast"/"broadcaster")."""
    if len(a) < 5 or len(b) < 5:
        return False
    a, b = _fold(a), _fold(b)
    if a == b or _common_prefix(a, b) >= 6:
        return True
    return abs(len(a) - len(b)) <= 1 and _one_edit(a, b)


@lru_cache(maxsize=65536)
def _fold(word: str) -> str:
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _one_edit(a: str, b: str) -> bool:
    """At most one insertion, deletion, substitution or swap of neighbours."""
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        if len(diff) <= 1:
            return True
        i, j = diff[0], diff[-1]
        return len(diff) == 2 and j == i + 1 and a[i] == b[j] and a[j] == b[i]
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def best_sentence(text: str, tokens: Sequence[str], weights: Mapping[str, float]) -> str:
    """The sentence of `text` sharing the most idf weight with the question (the highlight)."""
    return best_window(text, tokens, weights, 0)


def best_window(
    text: str, tokens: Sequence[str], weights: Mapping[str, float], around: int = 1
) -> str:
    """The best sentence (as `best_sentence`) with `around` sentences either side: where its
    answer is ("In April 1191 ... The storm hit ..." answers "what year did the storm hit?")."""
    spans = list(sentence_spans(text))
    if not spans:
        return text
    scores = [coverage(text[s:e], tokens, weights) for s, e in spans]
    best = max(range(len(spans)), key=lambda i: (scores[i], -i))
    first, last = max(0, best - around), min(len(spans) - 1, best + around)
    return text[spans[first][0] : spans[last][1]]


def unknown_share(tokens: Sequence[str], weights: Mapping[str, float], unknown_idf: float) -> float:
    """Idf-weighted share of the question's terms that no passage contains (idf at its maximum)."""
    wanted = set(tokens)
    total = math.fsum(weights.get(t, 1.0) for t in wanted)
    if total <= 0:
        return 0.0
    absent = [t for t in wanted if weights.get(t, 0.0) >= unknown_idf - 1e-9]
    return math.fsum(weights[t] for t in absent) / total


def features(
    evidence: Evidence,
    weights: Mapping[str, float],
    unknown_idf: float,
    names: Collection[str] = FEATURES,
) -> dict[str, float]:
    """The signals `names` (by default every one in FEATURES) for one candidate. `weights`
    holds the idf of the question's terms; `unknown_idf` is the idf of a term found in no
    passage. Only the signals asked for are computed: the service asks for the model's, the
    fit script for all of them."""
    question, passage = evidence.question, evidence.passage
    tokens = content_tokens(question)
    window = best_window(passage, tokens, weights) if _WINDOWED.intersection(names) else ""

    def focus_missing() -> float:
        focus = focus_terms(question)
        return float(bool(focus) and not set(keyword_tokens(passage)).issuperset(focus))

    def focus_unknown() -> float:
        return float(any(weights.get(t, 0.0) >= unknown_idf - 1e-9 for t in focus_terms(question)))

    signals: dict[str, Callable[[], float]] = {
        "dense": lambda: evidence.dense,
        "sentence_cosine": lambda: evidence.sentence_cosine,
        "coverage": lambda: coverage(passage, tokens, weights),
        "sentence_coverage": lambda: coverage(
            best_sentence(passage, tokens, weights), tokens, weights
        ),
        "unknown_share": lambda: unknown_share(tokens, weights, unknown_idf),
        "focus_missing": focus_missing,
        "focus_unknown": focus_unknown,
        "type_missing": lambda: float(not holds_type(window, answer_type(question), question)),
        "focus_gain": lambda: evidence.sentence_cosine - evidence.topic_sentence_cosine,
        "focus_match": lambda: evidence.focus_match,
        "keyword_top": lambda: float(evidence.keyword_top),
        "fact": lambda: float(evidence.fact),
        "window_coverage": lambda: coverage(window, tokens, weights),
        "missing_rare": lambda: missing_rare(tokens, window, weights, unknown_idf, close_enough),
        "number_missing": lambda: float(number_missing(question, window)),
        "negation_missing": lambda: float(negation_missing(question, window)),
        "name_missing": lambda: float(
            name_missing(question, window, weights, unknown_idf, close_enough)
        ),
        "name_rarity_missing": lambda: name_rarity_missing(
            question, window, weights, unknown_idf, close_enough
        ),
        "modifier_swapped": lambda: float(modifier_swapped(question, window, close_enough)),
        "opposite_stated": lambda: float(opposite_stated(question, window)),
        "type_missing_names": lambda: float(
            not holds_type(window, answer_type(question), question, places=False)
        ),
        "type_missing_people": lambda: float(
            not holds_type(window, answer_type(question), question, people="class")
        ),
        "type_missing_agent": lambda: float(
            not holds_type(window, answer_type(question), question, people="suffix")
        ),
        "sentence_type_missing": lambda: float(
            not holds_type(best_sentence(passage, tokens, weights), answer_type(question), question)
        ),
    }
    return {name: signals[name]() for name in names}


# Signals read from the best sentence and its neighbours (computed once, when one is asked for).
_WINDOWED = frozenset(
    (
        "type_missing",
        "type_missing_names",
        "type_missing_people",
        "type_missing_agent",
        "window_coverage",
        "missing_rare",
        "number_missing",
        "negation_missing",
        "name_missing",
        "name_rarity_missing",
        "modifier_swapped",
        "opposite_stated",
    )
)


def content_tokens(question: str) -> list[str]:
    """The question's keyword tokens less the words that only say what kind of answer it wants
    ("how many", "what year"): those are rarely in the passage that answers."""
    return [t for t in keyword_tokens(question) if t not in _TYPE_WORDS]
