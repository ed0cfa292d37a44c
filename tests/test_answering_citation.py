"""How a quote's source is cited: JSON keys come from the record, the terminal line reads well."""

from __future__ import annotations

from rich.console import Console

from bot.answering.citation import citation, cite, human_date, shorten, with_citations
from bot.answering.compose import Answer, Quote
from bot.index.generation import DocumentRecord
from bot.terminal.render import answer_to_terminal

RECORD = DocumentRecord(
    "news/jingzhou.html",
    "sha",
    100,
    3,
    3000,
    "2026-01-01T00:00:00+00:00",
    format="html",
    title="Grassroots Party organizations shift from administration to service",
    date="2010-08-10",
    url="http://english.people.com.cn/90001/90776/90785/7099786.html",
    author="People's Daily Online",
    pages=((0, 1000, 1), (1000, 3000, 2)),
    sections=((500, 3000, "Measures › Second"),),
)
QUOTE = Quote("news/jingzhou.html", 1200, 1300, "x" * 100, (1250, 1300), 0.5, 5)


def test_cite_takes_page_and_section_at_the_highlight() -> None:
    cited = cite(QUOTE, RECORD)
    assert (cited.page, cited.section) == (2, "Measures › Second")
    assert cited.title == RECORD.title and cited.date == "2010-08-10" and cited.url == RECORD.url
    before = cite(Quote("news/jingzhou.html", 100, 200, "y" * 100, None, 0.5, 1), RECORD)
    assert (before.page, before.section) == (1, None)


def test_with_citations_leaves_unknown_sources_alone() -> None:
    other = Quote("other.txt", 0, 5, "hello", None, 0.1, 1)
    answer = with_citations(Answer("q", (QUOTE, other), False), {RECORD.source: RECORD})
    assert answer.quotes[0].title == RECORD.title and answer.quotes[1] == other


def test_citation_line_reads_like_a_reference() -> None:
    line = citation(cite(QUOTE, RECORD))
    assert line == (
        'People\'s Daily Online — "Grassroots Party organizations shift from administration…", '
        "10 Aug 2010, Measures › Second, p. 2, ¶5"
    )


def test_citation_without_title_falls_back_to_the_file_name() -> None:
    assert citation(QUOTE) == "news/jingzhou.html ¶5"
    paged = Quote("r.pdf", 0, 5, "hello", None, 0.1, 7, page=3)
    assert citation(paged) == "r.pdf p. 3 ¶7"


def test_helpers() -> None:
    assert human_date("2010-08-10") == "10 Aug 2010" and human_date("2010") == "2010"
    assert shorten("short", 60) == "short"
    assert len(shorten("word " * 40, 30)) <= 30 and shorten("word " * 40, 30).endswith("…")


def test_terminal_shows_the_citation() -> None:
    console = Console(record=True, width=200, force_terminal=False)
    console.print(answer_to_terminal(Answer("q?", (cite(QUOTE, RECORD),), False)))
    text = console.export_text()
    assert "People's Daily Online — \"Grassroots Party organizations" in text
    assert "10 Aug 2010" in text and "p. 2" in text


def test_text_fragment_url_is_short_and_percent_encoded() -> None:
    from bot.answering.citation import text_fragment_url

    url = text_fragment_url(
        "https://example.org/a#top",
        "Second, grassroots-level Party organizations should improve the capabilities, & more.",
    )
    assert url == (
        "https://example.org/a#:~:text=Second%2C%20grassroots%2Dlevel%20Party%20organizations,"
        "the%20capabilities%2C%20%26%20more."
    )
    assert text_fragment_url("https://e.org/", "two words") == "https://e.org/#:~:text=two%20words"
    assert text_fragment_url("file:///x", "words") is None
    assert text_fragment_url("https://e.org/" + "a" * 600, "words") is None


def test_discord_source_line_links_the_title_at_the_quote() -> None:
    from bot.discord.render import render_answer, source_line
    from bot.discord.text import width

    record = DocumentRecord(
        "sky.pdf",
        "sha",
        1,
        1,
        1,
        "2026-01-01T00:00:00+00:00",
        title="Sky [UK] *launch* @everyone",
        url="https://en.wikipedia.org/wiki/Sky_(United_Kingdom)",
        pages=((0, 10_000, 2),),
    )
    text = "It closed its analogue service on 27 September 2001, due to the launch of digital."
    quote = cite(
        Quote("sky.pdf", 100, 100 + len(text), text, (100, 100 + len(text)), 0.5, 9), record
    )
    line = source_line(quote)
    label, _, rest = line.partition("](<")
    link, _, details = rest.partition(">)")
    assert label.startswith("— [") and "\\[UK\\]" in label and "\\*launch\\*" in label
    assert "@\u200beveryone" in label  # mention-safe
    assert link == (
        "https://en.wikipedia.org/wiki/Sky_%28United_Kingdom%29#:~:text="
        "It%20closed%20its%20analogue,the%20launch%20of%20digital."
    )
    assert not any(c in link for c in " ()<>@`")
    assert details == ", p. 2, ¶9"
    content = render_answer(Answer("q", (quote, quote, quote), False))
    assert width(content) <= 1900 and content.count("](<") == 3
