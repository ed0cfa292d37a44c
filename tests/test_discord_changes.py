"""`/changes` through the real discord.py client against the local stand-in: changed passages
quoted old → new, inert and unable to ping, pages with ◀ / ▶ that survive a restart."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.cli import compose_service
from bot.config import Settings
from bot.discord.changes_pages import render_change_pages
from bot.discord.render import CONTENT_BUDGET, NOT_HERE
from bot.discord.text import ZWSP, width
from bot.index.changelog import ChangeEntry, DocumentChange, PassageChange, Span
from bot.service import QuoteService
from tests.discord_harness import running
from tests.discord_stub import OTHER_CHANNEL_ID, DiscordStub, Request
from tests.fakes import FakeEmbedder

HOSTILE = (
    "Notice: @everyone must attend the budget hearing on Friday at the town hall, where the "
    "treasurer will present the accounts. <@&123456789012345678> and @here see [the agenda]"
    "(https://evil.example) first, and **bring** the `minutes` of the last meeting with you."
)


def _paragraph(topic: str, n: int) -> str:
    return (
        f"The {topic} report, section {n}, says that the committee examined the accounts of the "
        f"year and found the budget had been spent on repairs, salaries and training, with a "
        f"small surplus carried over to the next year for section {n} of the {topic} service."
    )


def _write(path: Path, paragraphs: list[str]) -> None:
    path.write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")


def _service(folder: Path, make_settings: Callable[..., Settings]) -> QuoteService:
    return compose_service(make_settings(folder), embedder=FakeEmbedder(), on_notice=lambda m: None)


def _safe(request: Request) -> dict[str, Any]:
    body = request.body
    payload: dict[str, Any] = body.get("data", body) if isinstance(body, dict) else {}
    assert (payload.get("allowed_mentions") or {}).get("parse") == []
    assert width(payload.get("content") or "") <= CONTENT_BUDGET
    return payload


def _ids(message: dict[str, Any]) -> list[tuple[str, str, bool]]:
    return [
        (c["custom_id"], c.get("label", ""), bool(c.get("disabled")))
        for row in message["components"]
        for c in row["components"]
    ]


async def _followup(server: DiscordStub, token: str) -> dict[str, Any]:
    await server.wait_for(lambda _: bool(server.followup_messages(token)))
    return server.followup_messages(token)[0]


async def _callback(server: DiscordStub, token: str) -> Request:
    def done(_: list[Request]) -> bool:
        return any(r.path.endswith("/callback") for r in server.messages_for(token))

    await server.wait_for(done)
    return next(r for r in server.messages_for(token) if r.path.endswith("/callback"))


async def test_changes_quotes_old_and_new_inert(
    stub: DiscordStub,
    tmp_path: Path,
    make_settings: Callable[..., Settings],
) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    _write(folder / "council.txt", [_paragraph("council", 1), HOSTILE])
    _write(folder / "@everyone.txt", [_paragraph("school", 1)])
    service = _service(folder, make_settings)
    async with running(service):
        _write(
            folder / "council.txt", [_paragraph("council", 1), HOSTILE.replace("Friday", "Monday")]
        )
        (folder / "@everyone.txt").unlink()
        service.refresh()
        token = await stub.slash("changes", {"since": "1"})
        message = await _followup(stub, token)
        bad = await stub.slash("changes", {"since": "last tuesday"})
        refusal = await _followup(stub, bad)
    content = message["content"]
    assert message["flags"] & 64 and not message["components"]  # one page: no buttons
    assert content.startswith(
        "**What changed in the documents** · generation 2\n\n__Generation 2__"
    )
    assert "**council.txt** — edited: 1 changed" in content
    assert f"@{ZWSP}everyone.txt** — removed (1 passage)" in content
    assert "-# was:\n> Notice: @\u200beveryone" in content and "-# now:\n> " in content
    assert "@everyone" not in content and "@here" not in content and "<@&" not in content
    assert "\\*\\*bring\\*\\*" in content and "\\`minutes\\`" in content
    for request in stub.sent("/webhooks/"):
        _safe(request)
    assert refusal["content"].startswith("Sorry: cannot read 'last tuesday'")


async def test_long_changes_are_pages_with_buttons_that_survive_a_restart(
    stub: DiscordStub,
    tmp_path: Path,
    make_settings: Callable[..., Settings],
) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    topics = ["harbour", "school", "library", "bridge", "market", "museum"]
    for topic in topics:
        _write(folder / f"{topic}.txt", [_paragraph(topic, n) for n in range(4)])
    service = _service(folder, make_settings)
    service.refresh()
    for version in range(1, 5):  # four updates, each editing every paragraph of every document
        for topic in topics:
            paragraphs = [
                _paragraph(topic, n).replace("repairs", f"repairs (v{version})") for n in range(4)
            ]
            _write(folder / f"{topic}.txt", paragraphs)
        service.refresh()
    expected = render_change_pages(service.changes()[1:])
    assert len(expected) >= 3
    async with running(service):
        token = await stub.slash("changes", {"since": "1"})
        first = await _followup(stub, token)
        assert first["content"] == expected[0]
        assert [(label, disabled) for _, label, disabled in _ids(first)] == [
            ("◀", True),
            (f"1/{len(expected)}", True),
            ("▶", False),
        ]
        forward = _ids(first)[2][0]
        click = await stub.click(int(first["id"]), forward)
        update = await _callback(stub, click)
        assert update.body["type"] == 7  # the same message, edited in place
        assert _safe(update)["content"] == expected[1]
        assert stub.messages[int(first["id"])]["content"] == expected[1]
    async with running(service):  # a restart: the buttons still work (all state in custom_id)
        moved = stub.messages[int(first["id"])]
        labels = [(label, disabled) for _, label, disabled in _ids(moved)]
        assert labels == [("◀", False), (f"2/{len(expected)}", True), ("▶", False)]
        for _ in range(len(expected)):
            current = stub.messages[int(first["id"])]
            forward = _ids(current)[2][0]
            if _ids(current)[2][2]:
                break
            click = await stub.click(int(first["id"]), forward)
            await _callback(stub, click)
    async with running(service, channel_ids=(OTHER_CHANNEL_ID,)):  # allowlist changed since
        refused = await stub.click(int(first["id"]), _ids(first)[2][0])
        refusal = await _callback(stub, refused)
    assert refusal.body["type"] == 4 and refusal.body["data"]["content"] == NOT_HERE
    last = stub.messages[int(first["id"])]
    assert last["content"] == expected[-1]
    assert [(label, disabled) for _, label, disabled in _ids(last)][2] == ("▶", True)
    assert all(len(custom_id) <= 100 for custom_id, _, _ in _ids(last))
    assert stub.double_acks == 0


@pytest.mark.parametrize("names", [1, pytest.param(40, marks=pytest.mark.thorough)])
def test_pages_stay_within_discords_limit(names: int) -> None:
    long = "x" * 3000
    passages = tuple(
        PassageChange("changed", Span(0, 3000, long + " @everyone"), Span(0, 3000, "<@1> " + long))
        for _ in range(12)
    )
    documents = tuple(
        DocumentChange(f"{'@here' * 100}-{n}.txt", "edited", passages) for n in range(names)
    )
    entries = [ChangeEntry(g, "2026-12-01T10:00:00+00:00", documents) for g in (1, 2)]
    pages = render_change_pages(entries)
    assert pages and all(width(page) <= CONTENT_BUDGET for page in pages)
    assert all("@here" not in page and "@everyone" not in page for page in pages)
    assert "and 4 more passages" in "".join(pages)  # at most 8 per document shown
    assert pages[0].split("\n\n")[1].startswith("__Generation 2__")  # newest first
