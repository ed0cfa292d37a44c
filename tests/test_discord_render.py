"""Discord rendering: every message within limits, inert as markdown, unable to ping."""

from __future__ import annotations

import re

import pytest
import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.answering.compose import Answer, Quote
from bot.discord.render import (
    CONTENT_BUDGET,
    CONTENT_LIMIT,
    RELATED_HEADING,
    STALE_MARK,
    STALE_NOTICE,
    render_answer,
    render_sources,
)
from bot.discord.text import ELLIPSIS, MAX_WORD_GRAPHEMES, escape, fit_passage, width
from bot.index.generation import DocumentRecord

EXAMPLES = 1000

# ---------------------------------------------------------------------------- checks

_MENTION = re.compile(r"[@＠﹫](?:everyone|here)|<@[!&]?\d", re.IGNORECASE)


def bare(content: str) -> str:
    """`content` with every backslash escape pair removed: what markdown would still parse."""
    return re.sub(r"\\.", "", content, flags=re.DOTALL)


def assert_safe(content: str, *, our_list: bool = False) -> None:
    assert width(content) <= CONTENT_BUDGET
    assert len(content) <= CONTENT_LIMIT
    assert not _MENTION.search(content), content
    rest = bare(content)
    for char in "`|[<":
        assert char not in rest, (char, content)
    for line in content.split("\n"):
        body = line[2:] if line.startswith("> ") else "" if line == ">" else line
        if line.startswith("-# "):  # our own subtext note
            body = line[3:]
        if our_list and line.startswith("- "):  # the /sources list
            body = line[2:]
        # No line may start a heading, quote, subtext or list of its own (escaped ones start
        # with a backslash).
        assert not re.match(r"\s*(?:#|>|[-+*] |\d+\. )", body.lstrip("…")), line
    assert rest.count("**") * 2 == rest.count("*"), content  # only our bold markers
    assert rest.count("**") % 2 == 0, content


# ---------------------------------------------------------------------------- strategies


def _long_text(word: str, n: int, sep: str) -> str:
    return sep.join([word] * n)


long_texts = st.builds(
    _long_text,
    st.text(min_size=1, max_size=30),
    st.integers(1, 2500),
    st.sampled_from([" ", "\n", "\n\n", "", " @everyone "]),
)
passages = st.one_of(st.text(max_size=2500), long_texts)


@st.composite
def quotes(draw: st.DrawFn) -> Quote:
    text = draw(passages)
    offset = draw(st.integers(0, 10**6))
    if text and draw(st.booleans()):
        a = draw(st.integers(0, len(text)))
        b = draw(st.integers(a, len(text)))
        highlight: tuple[int, int] | None = (offset + a, offset + b)
    else:
        highlight = None
    source = draw(st.one_of(st.just("article.txt"), st.text(min_size=1, max_size=300)))
    return Quote(
        source, offset, offset + len(text), text, highlight, 0.5, draw(st.integers(1, 10_000))
    )


answers = st.builds(
    Answer,
    question=st.one_of(st.text(max_size=300), long_texts),
    quotes=st.lists(quotes(), max_size=3).map(tuple),
    declined=st.booleans(),
    message=st.one_of(st.none(), st.text(max_size=3000)),
    # Earlier questions of a conversation: shown as "↳ following up on: …".
    context=st.lists(st.one_of(st.text(max_size=300), long_texts), max_size=2).map(tuple),
    # Nearest passages of a declined question, shown under "Related passages".
    related=st.lists(quotes(), max_size=3).map(tuple),
)


# ---------------------------------------------------------------------------- properties


@pytest.mark.thorough
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answers, st.booleans())
def test_every_answer_fits_and_is_mention_safe(answer: Answer, show_question: bool) -> None:
    assert_safe(render_answer(answer, show_question=show_question))


def _boundaries(text: str) -> set[int]:
    return {m.end() for m in regex.finditer(r"\X", text)} | {0}


def _no_space_script(char: str) -> bool:
    return bool(
        regex.match(
            r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}\p{Thai}\p{Lao}"
            r"\p{Khmer}\p{Myanmar}\p{Tibetan}]",
            char,
        )
    )


def _clean_cut(text: str, at: int) -> bool:
    """A cut between words (after a space, or after a space carrying a combining mark, which
    is one grapheme), next to a character of a script without spaces, or inside a run of
    non-space characters longer than MAX_WORD_GRAPHEMES (a URL, junk)."""
    if at in (0, len(text)) or text[at].isspace():
        return True
    before = regex.search(r"\X\Z", text[:at])
    if before and before.group()[0].isspace():  # a space, perhaps with a combining mark on it
        return True
    if _no_space_script(text[at - 1]) or _no_space_script(text[at]):
        return True
    left = re.search(r"\S+$", text[:at])
    right = re.compile(r"\S+").match(text, at)
    run = (left.group() if left else "") + (right.group() if right else "")
    return len(regex.findall(r"\X", run)) > MAX_WORD_GRAPHEMES


@pytest.mark.thorough
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(passages, st.integers(20, 1900), st.data())
def test_shortening_cuts_at_words_and_graphemes(text: str, budget: int, data: st.DataObject):
    a = data.draw(st.integers(0, len(text)))
    b = data.draw(st.integers(a, len(text)))
    passage = fit_passage(text, (a, b), budget)
    assert width(passage.content) <= max(budget, width("> " + ELLIPSIS))
    boundaries = _boundaries(text)
    assert passage.start in boundaries and passage.end in boundaries
    assert _clean_cut(text, passage.start) and _clean_cut(text, passage.end)
    if text[: passage.start].strip():
        assert passage.content.startswith("> " + ELLIPSIS)
    if text[passage.end :].strip():
        assert passage.content.endswith(ELLIPSIS)


# ---------------------------------------------------------------------------- examples


def _quote(text: str, highlight: str | None = None, source: str = "article.txt") -> Quote:
    span = None
    if highlight is not None:
        at = text.index(highlight)
        span = (1000 + at, 1000 + at + len(highlight))
    return Quote(source, 1000, 1000 + len(text), text, span, 0.7, 5)


def test_quote_is_a_block_quote_with_bold_highlight_and_source() -> None:
    text = "The council met on Monday. It approved the new budget of 3 million. Then it rested."
    content = render_answer(
        Answer("q", (_quote(text, "It approved the new budget of 3 million."),), False)
    )
    assert content == (
        "> The council met on Monday. **It approved the new budget of 3 million.** Then it "
        "rested.\n— article.txt ¶5"
    )


def test_question_is_shown_for_slash_commands() -> None:
    content = render_answer(Answer("what *is* it?", (_quote("It is."),), False), show_question=True)
    assert content.startswith("**Question:** what \\*is\\* it?\n> It is.")


def test_long_quote_is_shortened_around_the_highlight() -> None:
    before = "Words before the answer go on. " * 100
    after = "Words after the answer go on. " * 100
    text = before + "THE ANSWER SENTENCE IS HERE." + " " + after
    content = render_answer(Answer("q", (_quote(text, "THE ANSWER SENTENCE IS HERE."),), False))
    assert "**THE ANSWER SENTENCE IS HERE.**" in content
    assert content.startswith("> " + ELLIPSIS + "Words") or content.startswith("> …")
    body = content.split("\n— ")[0]
    assert body.endswith(ELLIPSIS)
    assert width(content) <= CONTENT_BUDGET


def test_highlight_longer_than_the_budget_keeps_its_beginning() -> None:
    sentence = "word " * 3000
    content = render_answer(Answer("q", (_quote("Intro. " + sentence, sentence),), False))
    assert content.startswith("> …**word word")
    assert width(content) <= CONTENT_BUDGET


def test_zwj_emoji_and_combining_marks_are_never_split() -> None:
    family = "👨‍👩‍👧‍👦"
    text = (family * 900) + " é" + ("\u0301" * 5)
    passage = fit_passage(text, (0, len(text)), 500)
    kept = text[passage.start : passage.end]
    assert kept == family * (len(kept) // len(family))
    assert width(passage.content) <= 500


def test_three_long_quotes_share_the_budget() -> None:
    quotes = tuple(
        _quote(f"Passage {i}. " + "filler text " * 400, f"Passage {i}.") for i in range(3)
    )
    content = render_answer(Answer("q", quotes, False))
    assert width(content) <= CONTENT_BUDGET
    for i in range(3):
        assert f"**Passage {i}.**" in content
    assert content.count("— article.txt ¶5") == 3


def test_declined_answer_is_the_friendly_message() -> None:
    answer = Answer("q", (), True, "I could not find that in my documents. They cover: news.")
    assert render_answer(answer) == "I could not find that in my documents. They cover: news."


def test_decline_with_related_passages_shows_them_under_a_heading() -> None:
    related = (_quote("The mayor's office opened in spring.", "opened in spring"),)
    answer = Answer(
        "Who is @everyone?", (), True, "My documents don't say who @everyone is.", related=related
    )
    content = render_answer(answer)
    assert_safe(content)
    lines = content.split("\n")
    assert "don't say who" in lines[0] and "everyone" in lines[0]
    assert lines[1] == RELATED_HEADING
    assert "> The mayor's office **opened in spring.**" in content
    assert content.endswith("— article.txt ¶5")


def test_related_passages_are_shortened_to_fit_one_message() -> None:
    related = tuple(_quote(f"Passage {i}. " + "word " * 400) for i in range(3))
    answer = Answer("q", (), True, "My documents don't say that.", related=related)
    content = render_answer(answer)
    assert_safe(content)
    assert content.count("— article.txt ¶5") == 3


def test_note_on_an_answer_is_shown_as_subtext() -> None:
    answer = Answer("q", (_quote("A."),), False, "Your question was long; I searched part of it.")
    assert render_answer(answer).startswith("-# Your question was long")


BREAKOUTS = [
    "@everyone look",
    "@here now",
    "<@123456789012345678>",
    "<@!123456789012345678>",
    "<@&123456789012345678>",
    "＠everyone",
    "﹫here",
    "@EVERYONE",
    "@every\u200bone",
    "```\n@everyone\n```",
    "`code`",
    "``` py\nprint(1)",
    "[click](https://evil.example)",
    "[a](<https://evil.example>)",
    "**[x](http://e.x)**",
    "||spoiler||",
    "> quoted",
    ">>> all quoted",
    "# Heading",
    "## Heading",
    "### Heading",
    "-# subtext",
    "- item",
    "* item",
    "+ item",
    "1. first",
    "__underline__",
    "~~strike~~",
    "*italic*",
    "_italic_",
    "<#123456789012345678>",
    "<t:1700000000:R>",
    "</ask:123456789012345678>",
    "<:emoji:123456789012345678>",
    "\\@everyone",
    "\\\\<@123456789012345678>",
    "\\`\\`\\`",
    "line one\n# heading two\n> quote three",
    "  - indented list",
    "text with https://example.com/a_b_c*d link",
    "[x](https://a.b/_c_)",
]


@pytest.mark.parametrize("text", BREAKOUTS)
def test_markdown_and_mention_breakouts_are_inert(text: str) -> None:
    quote = _quote(f"Before. {text} After.", text)
    for content in (
        render_answer(Answer(text, (quote,), False), show_question=True),
        render_answer(Answer(text, (), True, f"Declined: {text}")),
    ):
        assert_safe(content)
        assert not re.search(r"(?<!\\)\[[^\]]*\]\(", content)  # no live masked link


def test_urls_keep_their_underscores() -> None:
    assert escape("see https://example.com/a_b_c now_") == "see https://example.com/a_b_c now\\_"


def test_escape_matches_discord_escape_markdown_on_safety() -> None:
    import discord

    for text in BREAKOUTS:
        ours = bare(escape(text))
        # discord.py's helper escapes the same dangerous characters (ours also escapes `<`).
        theirs = bare(discord.utils.escape_mentions(discord.utils.escape_markdown(text)))
        for char in "`|":
            assert (char in ours) <= (char in theirs)


def test_sources_list_fits_and_summarises_the_tail() -> None:
    records = [
        DocumentRecord(
            f"folder/document_{i:04d}.txt", "0" * 64, 1234 * i, 7, 999, "2026-11-25T10:30:00+00:00"
        )
        for i in range(500)
    ]
    content = render_sources(records)
    assert content.startswith("**500 indexed documents:**\n- folder/document\\_0000.txt · 0 B")
    assert "indexed 2026-11-25 10:30 UTC" in content
    assert re.search(r"… and \d+ more$", content)
    assert_safe(content, our_list=True)


def test_sources_when_empty() -> None:
    assert render_sources([]) == "No documents are indexed yet."


def test_stale_quotes_are_marked_at_their_source_line_within_budget() -> None:
    quotes = tuple(
        _quote(f"Passage {n} says something long. " * 40, source=f"{n}.txt") for n in range(3)
    )
    content = render_answer(Answer("q", quotes, False), show_question=True, stale=(1,))
    assert content.count(STALE_MARK) == 1
    assert "— 1\\.txt ¶5" + STALE_MARK in content  # the file name escaped as markdown
    assert STALE_NOTICE in content
    assert width(content) <= CONTENT_BUDGET
    assert STALE_MARK not in render_answer(Answer("q", quotes, False))
