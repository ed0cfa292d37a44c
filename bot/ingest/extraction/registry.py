"""Which formats exist and which extractor reads each: the suffix table and `extract_in_process`.

A module of its own so that both the package (`extract`, which picks a format and sends HTML and
PDF to the sandbox) and the sandbox's child process (which runs the extractor) can import it,
without the package and the sandbox importing each other. The HTML and PDF extractors are imported
when first used: their parsing libraries are heavy, and in the child they load under its limits.
"""

from __future__ import annotations

from bot.ingest.extraction.base import Extracted, ExtractionFailed

SUFFIX_FORMATS = {
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".pdf": "pdf",
}


def extract_in_process(fmt: str, data: bytes, encoding: str | None = None) -> Extracted:
    """Run one extractor here, without isolation: for trusted input, tests and the sandbox child."""
    if fmt == "html":
        from bot.ingest.extraction.html import extract_html

        return extract_html(data)
    if fmt == "pdf":
        from bot.ingest.extraction.pdf import extract_pdf

        return extract_pdf(data)
    from bot.ingest.extraction.plaintext import decode_text, extract_plaintext

    text, used = decode_text(data, encoding)
    if fmt == "markdown":
        from dataclasses import replace

        from bot.ingest.extraction.markdown import extract_markdown

        return replace(extract_markdown(text), encoding=used)
    if fmt == "text":
        return extract_plaintext(text, used)
    raise ExtractionFailed(f"unknown format {fmt!r}")
