"""Counted nouns: one helper, used by every message that counts something."""

from __future__ import annotations

import pytest

from bot.index.report import UpdateReport
from bot.shared.wording import plural
from bot.stores.migrate import MigrateReport


@pytest.mark.parametrize(
    ("count", "expected"),
    [(0, "0 documents"), (1, "1 document"), (2, "2 documents"), (-1, "-1 documents")],
)
def test_plural(count: int, expected: str) -> None:
    assert plural(count, "document") == expected


def test_irregular_plural() -> None:
    assert (
        plural(1, "index", "indexes") == "1 index" and plural(3, "index", "indexes") == "3 indexes"
    )


def test_messages_count_in_the_singular_for_one() -> None:
    report = UpdateReport(added=["a.txt"], chunks_embedded=1, chunks_total=1)
    assert report.summary() == (
        "1 added, 0 changed, 0 removed, 0 unchanged; 1 chunk embedded, 1 in the index"
    )
    migrated = MigrateReport(documents=1, chunks=1, generation=3, target="postgres")
    assert migrated.summary().startswith("copied 1 document and 1 chunk (no re-embedding)")
