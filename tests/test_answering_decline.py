"""Decline messages say what was not found in the question's own words."""

from __future__ import annotations

import pytest

from bot.answering.decline import not_found_message


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ("Who is the mayor of Jingzhou?", "My documents don't say who the mayor of Jingzhou is."),
        ("What is Jingzhou's GDP?", "My documents don't say what Jingzhou's GDP is."),
        (
            "When was the Communist Party of China founded?",
            "My documents don't say when the Communist Party of China was founded.",
        ),
        (
            "How many villages are there in Jingzhou?",
            "My documents don't say how many villages there are in Jingzhou.",
        ),
        ("Who founded the guild?", "My documents don't say who founded the guild."),
        (
            "When will the new bridge be finished?",
            "My documents don't say when the new bridge will be finished.",
        ),
        ("What colour was the flag?", "My documents don't say what colour the flag was."),
        ("Which villages were praised?", "My documents don't say which villages were praised."),
        ("Is the mayor listed?", "My documents don't say whether the mayor is listed."),
        ("  who   is the MAYOR ", "My documents don't say who the MAYOR is."),
        # A preposition ending the question stays after the verb.
        ("What is the treaty about?", "My documents don't say what the treaty is about."),
        ("Who was the bridge named for?", "My documents don't say who the bridge was named for."),
        # A participle or an adjective before that preposition is the predicate: the verb
        # goes before it ("what X known is for" before).
        ("What is Jingzhou known for?", "My documents don't say what Jingzhou is known for."),
        ("What is the town famous for?", "My documents don't say what the town is famous for."),
        ("What was the plant used for?", "My documents don't say what the plant was used for."),
        ("Who is Emma married to?", "My documents don't say who Emma is married to."),
        ("What was the abbey built as?", "My documents don't say what the abbey was built as."),
        # An irregular participle ends the clause; inside a noun phrase it is left alone.
        ("When was the castle built?", "My documents don't say when the castle was built."),
        ("Where was Rollo born?", "My documents don't say where Rollo was born."),
        ("What is the best known work?", "My documents don't say what the best known work is."),
        # do/does/did: the tense moves onto the verb.
        ("What does the party depend on?", "My documents don't say what the party depends on."),
        (
            "What did the council decide about the bridge?",
            "My documents don't say what the council decided about the bridge.",
        ),
        ("Why did he flee?", "My documents don't say why he fled."),
        ("How does the system work?", "My documents don't say how the system works."),
        (
            "What do some scholars call that process?",
            "My documents don't say what some scholars call that process.",
        ),
        (
            "What does grassroots work require?",  # "work" could be the verb; "require" only is
            "My documents don't say what grassroots work requires.",
        ),
        (
            "Who does Jingzhou appoint to manage the committees?",
            "My documents don't say who Jingzhou appoints to manage the committees.",
        ),
        (
            "How much does a service center cost to build?",  # "center" modifies "cost"
            "My documents don't say how much a service center costs to build.",
        ),
        ("What did the Normans eat?", "My documents don't say what the Normans ate."),
        (
            "When did Robert Crispin go up against the Turks?",  # the verb follows the name
            "My documents don't say when Robert Crispin went up against the Turks.",
        ),
        (
            "When did the Siege of Antioch take place?",
            "My documents don't say when the Siege of Antioch took place.",
        ),
        (
            "Who did the Normans team up with?",
            "My documents don't say who the Normans teamed up with.",
        ),
        ("How much did Sky bid?", "My documents don't say how much Sky bid."),
        (
            "What does BSkyB's sport portfolio include?",  # after a possessive: a noun
            "My documents don't say what BSkyB's sport portfolio includes.",
        ),
        (
            "What were court proceedings being held about?",
            "My documents don't say what court proceedings were being held about.",
        ),
        # A follow-up naming only its new topic.
        ("What about its population?", "My documents don't say anything about its population."),
        ("And how about the mayor?", "My documents don't say anything about the mayor."),
    ],
)
def test_questions_become_indirect_clauses(question: str, message: str) -> None:
    assert not_found_message(question) == message


@pytest.mark.parametrize(
    "question",
    # no word after "did" reads as a verb (a capitalised one is taken for a name)
    [
        "What did the Council Decide?",
        "What company did not agree to the deal?",  # a negation is not moved about
        "Tell me about pandas",
        "zzzz",
        "And when?",
    ],
)
def test_other_forms_quote_the_question_rather_than_guess(question: str) -> None:
    assert not_found_message(question) == f"My documents don't answer “{question}”."


def test_a_very_long_question_is_shortened() -> None:
    message = not_found_message("Why " + "very " * 100 + "long?")
    assert message.startswith("My documents don't answer “Why very") and len(message) < 240
