import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bot.answering.compose import Answer, Quote
from bot.answering.conversation import Conversation, Turn
from bot.answering.state import (
    answer_from_state,
    answer_to_state,
    conversation_from_state,
    conversation_to_state,
    quote_from_state,
    quote_to_state,
)

_TEXT = st.text(max_size=20)
_OPTIONAL = st.none() | st.text(min_size=1, max_size=10)


@st.composite
def _quotes(draw: st.DrawFn) -> Quote:
    start = draw(st.integers(0, 1000))
    end = start + draw(st.integers(1, 200))
    highlight = draw(st.none() | st.tuples(st.just(start), st.integers(start + 1, end)))
    return Quote(
        draw(_TEXT),
        start,
        end,
        draw(_TEXT),
        highlight,
        draw(st.floats(allow_nan=False, allow_infinity=False)),
        draw(st.integers(1, 99)),
        title=draw(_OPTIONAL),
        date=draw(st.none() | st.just("2010-08-10")),
        url=draw(_OPTIONAL),
        page=draw(st.none() | st.integers(1, 500)),
        section=draw(_OPTIONAL),
        author=draw(_OPTIONAL),
    )


_ANSWERS = st.builds(
    Answer,
    _TEXT,
    st.lists(_quotes(), max_size=3).map(tuple),
    st.booleans(),
    _OPTIONAL,
    st.lists(_TEXT, max_size=2).map(tuple),
    st.none() | st.integers(0, 99),
)
_TURNS = st.builds(
    Turn,
    _TEXT,
    _TEXT,
    st.lists(_quotes(), max_size=3).map(tuple),
    st.lists(_TEXT, max_size=2).map(tuple),
    st.booleans(),
)


def _through_json(value: object) -> Any:
    return json.loads(json.dumps(value, ensure_ascii=False))


@given(_quotes())
def test_a_quote_survives_json_with_its_citation_details(quote: Quote) -> None:
    assert quote_from_state(_through_json(quote_to_state(quote))) == quote


@given(_ANSWERS)
def test_an_answer_survives_json(answer: Answer) -> None:
    assert answer_from_state(_through_json(answer_to_state(answer))) == answer


@given(st.lists(_TURNS, max_size=3).map(tuple))
def test_a_conversation_survives_json(turns: tuple[Turn, ...]) -> None:
    conversation = Conversation(turns)
    state = _through_json(conversation_to_state(conversation))
    assert conversation_from_state(state) == conversation


def test_absent_citation_details_are_left_out_of_the_state() -> None:
    state = quote_to_state(Quote("a.txt", 0, 3, "abc", (0, 3), 0.5, 1, title="T"))
    assert state == {
        "source": "a.txt",
        "start": 0,
        "end": 3,
        "text": "abc",
        "highlight": [0, 3],
        "score": 0.5,
        "paragraph": 1,
        "title": "T",
    }


def test_a_turn_saved_before_declined_existed_reads_as_answered() -> None:
    state = [{"question": "q?", "query": "q", "quotes": [], "used_context": []}]
    assert conversation_from_state(state) == Conversation((Turn("q?", "q", ()),))
