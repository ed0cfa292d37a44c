import pytest

from bot.ingest.extraction.base import ExtractionFailed
from bot.ingest.extraction.registry import SUFFIX_FORMATS, extract_in_process

SAMPLES = {
    "text": b"Plain words.\n\nA second paragraph.",
    "markdown": b"# Title\n\nSome *emphasis* here.",
    "html": b"<html><head><title>T</title></head><body><p>Body words here.</p></body></html>",
}


def test_every_suffix_names_a_format_the_registry_reads() -> None:
    assert set(SUFFIX_FORMATS.values()) == {"text", "markdown", "html", "pdf"}
    assert all(suffix == suffix.lower() and suffix.startswith(".") for suffix in SUFFIX_FORMATS)


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [("text", "A second paragraph."), ("markdown", "emphasis"), ("html", "Body words here.")],
)
def test_each_format_goes_to_its_extractor(fmt: str, expected: str) -> None:
    assert expected in extract_in_process(fmt, SAMPLES[fmt]).text


def test_text_formats_report_the_encoding_used() -> None:
    assert extract_in_process("text", SAMPLES["text"]).encoding == "utf-8"
    assert extract_in_process("markdown", SAMPLES["markdown"]).encoding == "utf-8"
    assert extract_in_process("text", "café".encode("cp1252"), "cp1252").text == "café"


def test_an_unknown_format_is_refused_by_name() -> None:
    with pytest.raises(ExtractionFailed, match="unknown format 'docx'"):
        extract_in_process("docx", b"PK")
