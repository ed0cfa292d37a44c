"""Say what was not found, in the question's own words: "My documents don't say who the mayor
of Jingzhou is." A reader then knows the bot understood the question and that the documents,
not the search, are silent. Rule-based on purpose: a wrong guess falls back to quoting the
question, never to invented words."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import TYPE_CHECKING

from bot.shared.text import shorten_line

if TYPE_CHECKING:
    from bot.index.generation import Manifest

# The answer to "more" once every passage worth showing has been shown (REPL, CLI and Discord).
NOTHING_MORE = "That is all my documents say about it."
# The answer to "more" right after a declined question: nothing was found, so nothing continues.
NO_ANSWER_TO_CONTINUE = (
    "My documents did not answer the last question, so there is nothing more to show."
)

_WH = r"(?:what|which|who|whom|whose|when|where|why|how(?:\s+(?:many|much|long|old|tall|far|often|big))?)"
_BE = r"(?:is|are|was|were)"
_MODAL = r"(?:will|would|can|could|should|shall|may|might|must|has|have|had)"
# "Who is the mayor of X?" -> "who the mayor of X is"; "When will the buildings be finished?"
# -> "when the buildings will be finished"; a wh-word that is the subject stays as it is.
_INVERTED = re.compile(
    rf"^(?P<wh>{_WH}(?:\s+\w+)?)\s+(?P<aux>{_BE}|{_MODAL})\s+(?P<rest>.+)$", re.I
)
_SUBJECT = re.compile(rf"^(?P<wh>{_WH})\s+(?P<rest>(?!does\b|do\b|did\b).+)$", re.I)
_YES_NO = re.compile(rf"^(?P<aux>{_BE}|{_MODAL})\s+(?P<rest>.+)$", re.I)
# "What does the party depend on?" -> "what the party depends on" (the verb takes the tense).
_DO_SUPPORT = re.compile(rf"^(?P<wh>{_WH}(?:\s+\w+)?)\s+(?P<aux>do|does|did)\s+(?P<rest>.+)$", re.I)
# "What about its population?" (a follow-up naming only a new topic) -> "anything about ...".
_WHAT_ABOUT = re.compile(r"^(?:and\s+)?(?:what|how)\s+about\s+(?P<rest>.+)$", re.I)
_TENSE = {"do": "VB", "does": "VBZ", "did": "VBD"}
_PARTICLES = {"up", "down", "out", "off", "over", "back", "in", "on", "away", "around", "about"}
_LIGHT_VERBS = {"take", "make", "have", "go", "get", "give", "come", "put", "set", "keep"}
_DO = re.compile(r"\b(do|does|did)\b", re.I)
_PARTICIPLE = re.compile(r"(?:\w+ly\s+)?\w{3,}(?:ed|en)(?:\s+.*)?", re.I)
# A preposition ending the question belongs after the verb: "what the treaty is about".
_STRANDED = {"about", "for", "from", "of", "with", "to", "in", "on", "at", "by", "like", "after"}
_SUBJECT_WORDS = {"a", "an", "the", "this", "that", "these", "those", "his", "her", "its", "their"}


def covered_message(manifest: Manifest) -> str:
    """The decline for a question about nothing the documents hold: names the first documents
    (they iterate in source order), so a reader sees what they do cover."""
    names = list(itertools.islice(manifest.documents, 5))
    topics = ", ".join(_topic(name) for name in names)
    count = len(manifest.documents)
    more = f" and {count - 5} more" if count > 5 else ""
    return f"I could not find that in my documents. They cover: {topics}{more}."


def _topic(source: str) -> str:
    stem = Path(source).stem.replace("_", " ").replace("-", " ")
    return " ".join(stem.split()) or source


def not_found_message(question: str) -> str:
    """The decline message for a question the documents do not answer."""
    clause = _indirect(" ".join(question.split()).rstrip(" ?.!"))
    if clause:
        return f"My documents don't say {clause}."
    shown = shorten_line(question, 200, trim=" ")
    return f"My documents don't answer “{shown}”."


def _indirect(question: str) -> str | None:
    """The question as an indirect clause, or None when its form is not one we can turn."""
    if not question or len(question) > 200:
        return None
    match = _WHAT_ABOUT.match(question)
    if match:
        return f"anything about {match['rest']}"
    match = _DO_SUPPORT.match(question)
    if match:
        clause = _without_do(match["rest"], match["aux"].lower())
        return _lower_first(f"{match['wh']} {clause}") if clause else None
    match = _INVERTED.match(question)
    if match:
        wh, aux, rest = match["wh"], match["aux"], match["rest"]
        words = wh.split()
        if len(words) > 1 and _PARTICIPLE.fullmatch(rest):
            # "Which villages were praised": the wh-phrase is the subject, keep the order.
            return _lower_first(f"{wh} {aux} {rest}")
        head, _, tail = rest.partition(" ")
        if aux.lower() in ("is", "are", "was", "were") and tail and head.lower() not in ("there",):
            return _lower_first(f"{wh} {_subject_then(rest, aux)}")
        if head.lower() == "there":
            return _lower_first(f"{wh} there {aux} {tail}".strip())
        return _lower_first(f"{wh} {_subject_then(rest, aux)}")
    match = _SUBJECT.match(question)
    if (
        match
        and not _DO.search(question)
        and not match["wh"].lower().startswith(("when", "where", "why"))
    ):
        return _lower_first(question)  # "Who founded the party" -> "who founded the party"
    match = _YES_NO.match(question)
    if match:
        return "whether " + _subject_then(match["rest"], match["aux"])
    return None


def _subject_then(rest: str, aux: str) -> str:
    """Put the auxiliary after the subject: the subject is taken to run up to the first verb-like
    word after a determiner phrase; without a better parse, a be-verb goes last when the rest is
    a noun phrase ("the mayor of X" -> "the mayor of X is")."""
    aux = aux.lower()
    words = rest.split()
    if aux in ("is", "are", "was", "were"):
        # Passive or progressive ("was Jingzhou founded", "are they living"): aux before the
        # participle; otherwise (a noun phrase) at the end.
        for i, word in enumerate(words[1:], start=1):
            ends = i == len(words) - 1 or words[i + 1].lower() in _STRANDED | {"as", "into"}
            if (
                re.fullmatch(r"[a-z]{3,}(ed|en)|[a-z]{3,}ing|being", word)
                # an irregular one ends the clause: "when the castle was built", but "the best
                # known work" is a noun phrase
                or (ends and _participle(word))
            ) and words[i - 1].lower() not in _SUBJECT_WORDS:
                return " ".join([*words[:i], aux, *words[i:]])
        if len(words) > 2 and words[-1].lower() in _STRANDED and _adjective(words[-2]):
            # "What is X famous for?" -> "what X is famous for": the adjective is the predicate.
            return " ".join([*words[:-2], aux, *words[-2:]])
        if len(words) > 1 and words[-1].lower() in _STRANDED:
            # "What is the treaty about?" -> "what the treaty is about", not "... about is".
            return " ".join([*words[:-1], aux, words[-1]])
        return f"{rest} {aux}"
    # Modal: "will the new buildings be finished" -> "the new buildings will be finished"
    for i, word in enumerate(words):
        if word.lower() in ("be", "have", "been", "do") or (
            i > 0
            and re.fullmatch(r"\w+", word)
            and word.islower()
            and words[i - 1].lower() not in _SUBJECT_WORDS
            and _looks_verb(word)
        ):
            return " ".join([*words[:i], aux, *words[i:]])
    return f"{rest} {aux}"


def _without_do(rest: str, do: str) -> str | None:
    """The clause after "do/does/did" with the tense moved onto its verb ("the party depend on"
    -> "the party depends on"), or None when no word reads as the verb.

    Candidates are lower-case base forms of a verb, not particles ("up") and not right after a
    determiner. The verb is the first that is a light verb ("take place", "go up"), or can only
    be a verb ("grassroots work require"), or is not followed by another candidate: one that is
    modifies it ("a service center cost")."""
    from lemminflect import getAllInflections, getAllLemmas

    words = rest.split()
    if "not" in (word.lower() for word in words):
        return None  # "What company did not agree ...": the question is quoted instead
    lemmas = [getAllLemmas(word) for word in words]
    candidates = [
        i
        for i, word in enumerate(words[1:], start=1)
        if word.islower()
        and words[i - 1].lower() not in _SUBJECT_WORDS
        and not words[i - 1].endswith(("'s", "’s"))  # a possessive determines a noun
        and word in lemmas[i].get("VERB", ())
        and word not in _PARTICLES
    ]
    verb = next(
        (
            i
            for i in candidates
            if words[i] in _LIGHT_VERBS or set(lemmas[i]) == {"VERB"} or i + 1 not in candidates
        ),
        None,
    )
    if verb is None:
        return None
    if do != "do":
        forms = getAllInflections(words[verb], "VERB").get(_TENSE[do], ())
        if not forms:
            return None
        # "bid" or "bade": a past that can be the base form is ("cut", "set", "bid").
        words[verb] = words[verb] if words[verb] in forms else forms[0]
    return " ".join(words)


def _participle(word: str) -> bool:
    """An irregular past participle ("known", "built", "born"): the regular ones are caught by
    their ending. A base form that is its own participle ("cost", "set") does not count."""
    from lemminflect import getAllInflections, getAllLemmas

    word = word.lower()
    lemmas = getAllLemmas(word).get("VERB", ())
    return any(
        word != lemma and word in getAllInflections(lemma, "VERB").get("VBN", ())
        for lemma in lemmas
    )


def _adjective(word: str) -> bool:
    """Only an adjective or a participle ("famous", "known"), never also a noun ("treaty")."""
    from lemminflect import getAllLemmas

    lemmas = getAllLemmas(word.lower())
    return _participle(word) or ("ADJ" in lemmas and "NOUN" not in lemmas)


def _looks_verb(word: str) -> bool:
    return word.lower() in ("be", "have", "do", "get", "make", "go", "come", "take", "give")


def _lower_first(text: str) -> str:
    first, _, rest = text.partition(" ")
    if first.isupper() and len(first) > 1:
        return text
    return (first[:1].lower() + first[1:] + (" " + rest if rest else "")).strip()
