from rich.console import Console

from bot.answer import Answer, Quote
from bot.render import answer_to_json, answer_to_terminal

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
    }
    declined = answer_to_json(Answer("x", (), True, "nothing"))
    assert declined["declined"] is True and declined["quotes"] == []


def test_terminal_shows_source_position_and_bold_highlight() -> None:
    console = Console(record=True, width=100, force_terminal=True)
    console.print(answer_to_terminal(Answer("q?", (QUOTE,), False)))
    text = console.export_text(clear=False)
    assert "a.txt ¶3" in text and "Second one here." in text
    styled = console.export_text(styles=True)
    assert "\x1b[1" in styled  # bold somewhere: the highlight
