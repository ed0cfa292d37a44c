"""Web pages, PDFs, Markdown and sidecars through indexing and the service (fake embedder)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.cli import compose_service
from bot.config import Settings
from bot.ingest.extraction import EXTRACTOR_VERSION, extract
from bot.service import QuoteService
from bot.terminal.render import answer_to_json, sources_to_json
from tests.fakes import FakeEmbedder
from tests.test_ingest_extraction import NEWS_PAGE, NOTES, _report_pdf

pytestmark = pytest.mark.subprocess  # PDF and HTML are extracted in the sandbox, a child process


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "news.html").write_text(NEWS_PAGE, encoding="utf-8")
    (folder / "handbook.pdf").write_bytes(_report_pdf(pages=3))
    (folder / "notes.md").write_text(NOTES, encoding="utf-8")
    (folder / "minutes.txt").write_text("The committee met on Tuesday and agreed the budget.\n")
    (folder / "minutes.meta.toml").write_text('title = "Committee minutes"\ndate = 2024-02-06\n')
    (folder / "scan.pdf").write_bytes(b"%PDF-1.4\ntruncated")
    return folder


def _service(folder: Path, make_settings: Callable[..., Settings]) -> QuoteService:
    return compose_service(make_settings(folder), embedder=FakeEmbedder(), on_notice=lambda m: None)


def test_sources_carry_format_and_citation(
    mixed: Path, make_settings: Callable[..., Settings]
) -> None:
    service = _service(mixed, make_settings)
    report = service.refresh()
    assert any(w.startswith("skipping scan.pdf:") for w in report.warnings)
    rows = {row["source"]: row for row in sources_to_json(service.sources())}
    assert set(rows) == {"news.html", "handbook.pdf", "notes.md", "minutes.txt"}
    assert rows["news.html"]["format"] == "html"
    assert rows["news.html"]["title"] == "Rivers rise after storm"
    assert rows["news.html"]["date"] == "2021-03-04"
    assert rows["news.html"]["url"] == "https://gazette.example/2021/rivers-rise"
    assert rows["handbook.pdf"]["format"] == "pdf" and rows["handbook.pdf"]["pages"] == 3
    assert rows["notes.md"]["title"] == "Home lab notes"
    assert rows["minutes.txt"]["title"] == "Committee minutes"
    assert all(record.extractor == EXTRACTOR_VERSION for record in service.sources())
    json.dumps(list(rows.values()))  # serialisable as printed by `quotebot sources --json`


def test_quotes_are_verbatim_against_the_extracted_text_and_cite_page_and_section(
    mixed: Path, make_settings: Callable[..., Settings]
) -> None:
    service = _service(mixed, make_settings)
    service.refresh()
    seen_page = seen_section = False
    for question in ("pumping station diesel generator", "install the packages with apt"):
        for quote in service.ranked_quotes(question, k=10):
            text = service.document_text(quote.source)
            assert text[quote.start : quote.end] == quote.text
            if quote.source == "handbook.pdf":
                assert quote.page in (1, 2, 3) and quote.title == "Pumping Station Handbook"
                seen_page = True
            highlighted = text[quote.highlight[0] : quote.highlight[1]] if quote.highlight else ""
            if quote.source == "notes.md" and "apt" in highlighted:
                assert quote.section == "Setup › Linux"
                seen_section = True
    assert seen_page and seen_section


def test_document_text_is_what_extraction_gives(
    mixed: Path, make_settings: Callable[..., Settings]
) -> None:
    service = _service(mixed, make_settings)
    service.refresh()
    data = (mixed / "news.html").read_bytes()
    assert service.document_text("news.html") == extract(mixed / "news.html", data).text


def test_ask_json_has_the_citation_keys(
    mixed: Path, make_settings: Callable[..., Settings]
) -> None:
    service = _service(mixed, make_settings)
    service.refresh()
    quotes = answer_to_json(service.ask("river Wend stone bridge arches"))["quotes"]
    news = [q for q in quotes if q["source"] == "news.html"]
    assert news, quotes
    assert news[0]["title"] == "Rivers rise after storm" and news[0]["date"] == "2021-03-04"
    assert news[0]["url"] == "https://gazette.example/2021/rivers-rise"
    assert news[0]["page"] is None


def test_editing_a_sidecar_re_reads_its_document(
    mixed: Path, make_settings: Callable[..., Settings]
) -> None:
    service = _service(mixed, make_settings)
    service.refresh()
    (mixed / "minutes.meta.toml").write_text('title = "Budget minutes"\n')
    report = service.refresh()
    assert report.changed == ["minutes.txt"]
    titles = {r.source: r.title for r in service.sources()}
    assert titles["minutes.txt"] == "Budget minutes"


def test_another_extractor_version_re_extracts_without_a_rebuild(
    mixed: Path, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    service = _service(mixed, make_settings)
    service.refresh()
    manifests = list((tmp_path / "index").rglob("manifest.json"))
    assert len(manifests) == 1
    data = json.loads(manifests[0].read_text())
    data["documents"]["news.html"]["extractor"] = "formats-0"
    manifests[0].write_text(json.dumps(data))
    report = _service(mixed, make_settings).refresh()
    assert report.rebuild_reason is None
    assert report.chunks_embedded > 0  # news.html again
    assert report.chunks_embedded < report.chunks_total  # and only it
