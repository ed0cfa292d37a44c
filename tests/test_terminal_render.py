from rich.console import Console

from bot.answering.compose import Answer, Quote
from bot.index.generation import DocumentRecord
from bot.terminal.render import _quote_text, answer_to_json, answer_to_terminal, sources_to_terminal

QUOTE = Quote("a.txt", 10, 40, "First sentence. Second one here.", (26, 40), 0.71, 3)


def test_json_contract() -> None:
    data = answer_to_json(Answer("q?", (QUOTE,), False))
    assert data == {
        "question": "q?",
        "declined": False,
        "quotes": [
            {
                "source": "a.txt",
                "start": 10,
                "end": 40,
                "text": "First sentence. Second one here.",
                "highlight": {"start": 26, "end": 40},
                "score": 0.71,
                "title": None,
                "date": None,
                "url": None,
                "page": None,
                "section": None,
            }
        ],
        "related": [],
    }
    declined = answer_to_json(Answer("x", (), True, "nothing"))
    assert declined["declined"] is True and declined["quotes"] == []


def test_json_decline_offers_related_passages_beside_no_quotes() -> None:
    answer = Answer(
        "Who is the mayor?", (), True, "My documents don't say who the mayor is.", related=(QUOTE,)
    )
    data = answer_to_json(answer)
    assert data["declined"] is True and data["quotes"] == []
    assert data["message"] == "My documents don't say who the mayor is."
    assert [q["text"] for q in data["related"]] == [QUOTE.text]
    assert set(data["related"][0]) == set(answer_to_json(Answer("q", (QUOTE,), False))["quotes"][0])


def test_terminal_decline_lists_related_passages_under_a_heading() -> None:
    console = Console(record=True, width=100, force_terminal=False)
    answer = Answer(
        "Who is the mayor?", (), True, "My documents don't say who the mayor is.", related=(QUOTE,)
    )
    console.print(answer_to_terminal(answer))
    text = console.export_text()
    assert text.index("don't say who the mayor is") < text.index("Related passages")
    assert text.index("Related passages") < text.index("Second one here.")
    assert "a.txt ¶3" in text


def test_terminal_decline_without_related_is_one_line() -> None:
    console = Console(record=True, width=100, force_terminal=False)
    console.print(answer_to_terminal(Answer("x", (), True, "I could not find that.")))
    assert console.export_text().strip() == "I could not find that."


def test_terminal_shows_source_position_and_bold_highlight() -> None:
    console = Console(record=True, width=100, force_terminal=True)
    console.print(answer_to_terminal(Answer("q?", (QUOTE,), False)))
    text = console.export_text(clear=False)
    assert "a.txt ¶3" in text and "Second one here." in text
    styled = console.export_text(styles=True)
    assert "\x1b[1" in styled  # bold somewhere: the highlight


HOSTILE = Quote(
    "clip\x1b]0;title\x07.txt",
    100,
    156,
    "Copy \x1b]52;c;eA==\x1b\\ this. The \x1b[1manswer\x1b[0m here.\u202e Done.",
    (125, 150),
    0.5,
    2,
    title=None,
    section="Setup [/] \x1b[2J",
)


def test_terminal_output_of_hostile_text_is_inert_and_the_highlight_stays_put() -> None:
    answer = Answer("q?", (HOSTILE,), False, context=("earlier \x1b[2J [bold]?",))
    console = Console(record=True, width=200, color_system=None)
    console.print(answer_to_terminal(answer))
    out = console.export_text()
    assert "\x1b" not in out and "\u202e" not in out
    assert out.splitlines()[:2] == [
        "↳ following up on: earlier \\x1b[2J [bold]?",
        "1. clip\\x1b]0;title\\x07.txt, Setup [/] \\x1b[2J ¶2  score 0.50",
    ]
    assert "Copy \\x1b]52;c;eA==\\x1b\\ this. The \\x1b[1manswer\\x1b[0m here.\\u202e Done." in out
    body = _quote_text(HOSTILE)
    bold = [body.plain[s.start : s.end] for s in body.spans if s.style == "bold"]
    assert bold == ["The \\x1b[1manswer\\x1b[0m here.\\u202e"]  # document offsets 125-150


def test_declines_and_notes_are_inert() -> None:
    console = Console(record=True, width=200, color_system=None)
    console.print(answer_to_terminal(Answer("x", (), True, "They cover: a\x1b[2Jb [/].")))
    assert console.export_text() == "They cover: a\\x1b[2Jb [/].\n"


def test_sources_table_shows_markup_in_names_and_titles_as_text() -> None:
    records = [
        DocumentRecord(
            source="[draft] report.txt", sha256="0", size=1, characters=10, chunks=1,
            indexed_at="2026-12-01T00:00:00", format="txt",
        ),
        DocumentRecord(
            source="notes\x1b[2J.md", sha256="1", size=1, characters=10, chunks=1,
            indexed_at="2026-12-01T00:00:00", format="md", title="Budget [/] notes",
        ),
    ]  # fmt: skip
    console = Console(record=True, width=200, color_system=None)
    console.print(sources_to_terminal(records))
    out = console.export_text()
    assert "[draft] report.txt" in out and "Budget [/] notes" in out
    assert "notes\\x1b[2J.md" in out and "\x1b" not in out
