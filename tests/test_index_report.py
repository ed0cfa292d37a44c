import pytest

from bot.index.report import UpdateReport
from bot.ingest.folder_walk import Problem


@pytest.mark.parametrize(
    ("report", "summary", "changed"),
    [
        (
            UpdateReport(),
            "0 added, 0 changed, 0 removed, 0 unchanged; 0 chunks embedded, 0 in the index",
            False,
        ),
        (
            UpdateReport(added=["a.txt"], chunks_embedded=1, chunks_total=3, unchanged=["b", "c"]),
            "1 added, 0 changed, 0 removed, 2 unchanged; 1 chunk embedded, 3 in the index",
            True,
        ),
        (
            UpdateReport(removed=["gone.md"], chunks_total=2),
            "0 added, 0 changed, 1 removed, 0 unchanged; 0 chunks embedded, 2 in the index",
            True,
        ),
        (
            UpdateReport(changed=["x.pdf"], chunks_embedded=12),
            "0 added, 1 changed, 0 removed, 0 unchanged; 12 chunks embedded, 0 in the index",
            True,
        ),
    ],
)
def test_summary_and_whether_anything_changed(
    report: UpdateReport, summary: str, changed: bool
) -> None:
    assert report.summary() == summary
    assert report.changed_anything is changed


def test_notices_put_the_rebuild_first_then_the_interruption_then_warnings() -> None:
    problem = Problem("p.pdf", "p.pdf: skipped (encrypted)", "id")
    report = UpdateReport(
        warnings=[problem.message],
        rebuild_reason="the model changed",
        interrupted="the previous update was interrupted",
        problems=(problem,),
    )
    assert report.notices() == [
        "the model changed: re-embedding everything",
        "the previous update was interrupted",
        "p.pdf: skipped (encrypted)",
    ]
    assert UpdateReport().notices() == []


def test_json_has_the_lists_and_counts_only() -> None:
    report = UpdateReport(
        added=["a"],
        changed=["b"],
        removed=["c"],
        unchanged=["d"],
        chunks_embedded=1,
        chunks_total=2,
        generation=7,
        warnings=["w"],
    )
    assert report.to_json() == {
        "added": ["a"],
        "changed": ["b"],
        "removed": ["c"],
        "unchanged": ["d"],
        "chunks_embedded": 1,
        "chunks_total": 2,
    }
