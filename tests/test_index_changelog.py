"""Changelog entries: JSON round trip, retention, `--since` parsing and selection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.errors import ChangesSinceError
from bot.index.changelog import (
    ChangeEntry,
    DocumentChange,
    PassageChange,
    Retention,
    Since,
    Span,
    document_summary,
    last_changed,
    parse_since,
    select,
    when,
)

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def _entry(generation: int, days_ago: float, source: str = "a.txt") -> ChangeEntry:
    time = (NOW - timedelta(days=days_ago)).isoformat(timespec="seconds")
    change = PassageChange("changed", Span(0, 3, "old"), Span(0, 4, "new!"))
    return ChangeEntry(generation, time, (DocumentChange(source, "edited", (change,), None, 1, 1),))


def test_json_round_trip() -> None:
    entry = ChangeEntry(
        4,
        "2026-12-01T10:00:00+00:00",
        (
            DocumentChange(
                "a.txt", "edited", (PassageChange("removed", Span(1, 5, "ab\u200bc"), None),)
            ),
            DocumentChange("b.txt", "renamed", (), "old b.txt", 2, 2),
        ),
        note="chunker settings changed",
    )
    assert ChangeEntry.from_json(entry.to_json()) == entry


def test_retention_keeps_recent_and_at_most_n_and_always_the_newest() -> None:
    entries = [_entry(g, days_ago=10 - g) for g in range(1, 11)]  # generation 10 is today
    assert [e.generation for e in Retention(days=3, max_entries=100).prune(entries)] == [
        7,
        8,
        9,
        10,
    ]
    assert [e.generation for e in Retention(days=90, max_entries=2).prune(entries)] == [9, 10]
    assert [e.generation for e in Retention(days=0.001, max_entries=1).prune(entries)] == [10]
    assert Retention().prune([]) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, Since()),
        ("", Since()),
        ("7", Since(generation=7)),
        ("3d", Since(time=NOW - timedelta(days=3))),
        ("12h", Since(time=NOW - timedelta(hours=12))),
        ("2W", Since(time=NOW - timedelta(weeks=2))),
        ("2026-12-01", Since(time=datetime(2026, 12, 1, tzinfo=UTC))),
        ("2026-12-01T08:30:00+01:00", Since(time=datetime(2026, 12, 1, 7, 30, tzinfo=UTC))),
    ],
)
def test_since_forms(text: str | None, expected: Since) -> None:
    assert parse_since(text, NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "-3", "3 days ago", "2026-13-01", "7.5"])
def test_since_garbage_is_one_clear_error(text: str) -> None:
    with pytest.raises(ChangesSinceError, match="generation number"):
        parse_since(text, NOW)


def test_select_by_generation_and_time() -> None:
    entries = [_entry(3, 5), _entry(1, 9), _entry(2, 7)]
    assert [e.generation for e in select(entries, Since())] == [1, 2, 3]
    assert [e.generation for e in select(entries, Since(generation=2))] == [3]
    assert [e.generation for e in select(entries, parse_since("8d", NOW))] == [2, 3]


def test_last_changed_ignores_removals() -> None:
    removed = ChangeEntry(5, NOW.isoformat(), (DocumentChange("a.txt", "removed"),))
    found = last_changed([_entry(2, 3, "a.txt"), _entry(3, 1, "b.txt"), removed])
    assert found == {
        "a.txt": (NOW - timedelta(days=3)).isoformat(timespec="seconds"),
        "b.txt": (NOW - timedelta(days=1)).isoformat(timespec="seconds"),
    }


def _passage(kind: str) -> PassageChange:
    return PassageChange(kind, Span(0, 1, "a"), Span(0, 1, "b"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (DocumentChange("a.txt", "added", passages_after=1), "added (1 passage)"),
        (DocumentChange("a.txt", "removed", passages_before=3), "removed (3 passages)"),
        (DocumentChange("a.txt", "renamed", renamed_from="old.txt"), "renamed from old.txt"),
        (
            DocumentChange(
                "a.txt", "edited", (_passage("added"), _passage("changed"), _passage("added"))
            ),
            "edited: 1 changed, 2 added",
        ),
        (DocumentChange("a.txt", "edited", (_passage("removed"),)), "edited: 1 removed"),
    ],
)
def test_document_summary_in_words(document: DocumentChange, expected: str) -> None:
    assert document_summary(document) == expected


def test_document_summary_passes_the_old_name_through_the_given_shortener() -> None:
    renamed = DocumentChange("new.txt", "renamed", renamed_from="a/very/long/old.txt")
    assert document_summary(renamed, lambda n: n[-7:]) == "renamed from old.txt"


def test_when_is_minutes_in_utc() -> None:
    assert when(_entry(5, 0.5)) == "2026-12-03 00:00 UTC"
