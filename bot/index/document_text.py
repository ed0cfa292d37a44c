"""The exact text that the quote offsets of an indexed document refer to."""

from __future__ import annotations

from pathlib import Path

from bot.errors import KnowledgeError
from bot.index.generation import SearchIndex


def document_text(
    index: SearchIndex, knowledge: Path, source: str, *, follow_external_links: bool
) -> str:
    """Exactly the text the quote offsets of `source` refer to (extracted again, same bytes).

    Extraction is a deterministic function of the bytes and EXTRACTOR_VERSION, both recorded
    in the manifest, so the text need not be stored; a file changed since indexing is refused.
    """
    from bot.ingest.documents import DocumentSkipped, locate, read_document

    record = index.manifest.documents.get(source)
    if record is None:
        raise KnowledgeError(f"no indexed document {source!r} (see: quotebot sources)")
    follow = follow_external_links
    try:
        file = locate(knowledge, source, follow_external_links=follow)
        document = read_document(file, encoding=record.encoding)
    except DocumentSkipped as exc:
        raise KnowledgeError(f"cannot read {source}: {exc}") from None
    if document.sha256 != record.sha256:
        raise KnowledgeError(f"{source} changed since it was indexed; run: quotebot index")
    return document.text
