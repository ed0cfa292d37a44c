"""The one object every surface uses: keeps the index current and answers questions.

Swapping in a new index generation is a single reference assignment, so a question in flight is
answered entirely from the generation it started with.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.answer import Answer, ComposeSettings, Quote, compose
from bot.citation import with_citations
from bot.config import Settings
from bot.embedding import Embedder, SentenceTransformerEmbedder, resolve_model
from bot.errors import QuestionError
from bot.file_store import FileStore
from bot.index import DocumentRecord, IndexRecipe, SearchIndex
from bot.indexing import ProgressCallback, UpdateReport, update_index
from bot.retrieval import Hit, boost_document_facts, fuse_weighted
from bot.store import Store
from bot.text import keyword_tokens, normalize_for_matching

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Timings:
    embed_ms: float
    search_ms: float
    compose_ms: float


class QuoteService:
    def __init__(
        self,
        settings: Settings,
        embedder: Embedder | None = None,
        store: Store | None = None,
        on_notice: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self._notice = on_notice or (lambda message: log.info("%s", message))
        self.embedder: Embedder = embedder or SentenceTransformerEmbedder(
            resolve_model(settings.embedding.model, settings.embedding.revision),
            device=settings.embedding.device,
            batch_size=settings.embedding.batch_size,
            on_load=lambda name: self._notice(f"loading embedding model {name} ..."),
        )
        self.store: Store = store or FileStore(
            settings.index_dir, settings.index.lock_timeout_seconds, self._notice
        )
        self._index: SearchIndex | None = None

    @property
    def knowledge(self) -> Path:
        return self.settings.knowledge.path

    @property
    def index(self) -> SearchIndex:
        if self._index is None:
            self.refresh()
        assert self._index is not None
        return self._index

    def recipe(self) -> IndexRecipe:
        return IndexRecipe(self.embedder.spec.model_id, self.settings.chunking.to_chunker())

    def refresh(self, progress: ProgressCallback | None = None) -> UpdateReport:
        """Bring the index up to date with the knowledge folder and serve the result."""
        index, report = update_index(
            self.knowledge, self.store, self.recipe(), self.embedder, progress=progress
        )
        self._index = index  # the swap: one reference assignment
        return report

    def sources(self) -> list[DocumentRecord]:
        return list(self.index.manifest.documents.values())

    def document_text(self, source: str) -> str:
        """Exactly the text the quote offsets of `source` refer to (extracted again, same bytes).

        Extraction is a deterministic function of the bytes and EXTRACTOR_VERSION, both recorded
        in the manifest, so the text need not be stored; a file changed since indexing is refused.
        """
        from bot.documents import DocumentFile, DocumentSkipped, read_document
        from bot.errors import KnowledgeError

        record = self.index.manifest.documents.get(source)
        if record is None:
            raise KnowledgeError(f"no indexed document {source!r} (see: quotebot sources)")
        try:
            document = read_document(DocumentFile(source, self.knowledge / source, "", 0))
        except DocumentSkipped as exc:
            raise KnowledgeError(f"cannot read {source}: {exc}") from None
        if document.sha256 != record.sha256:
            raise KnowledgeError(f"{source} changed since it was indexed; run: quotebot index")
        return document.text

    def ask(self, question: str) -> Answer:
        return self.answer(question)[0]

    def answer(self, question: str, *, limit: int | None = None) -> tuple[Answer, Timings]:
        """Answer one question from the current generation; raises QuestionError if empty."""
        import time

        query, note = self._prepare(question)
        index = self.index  # one generation for the whole question
        t0 = time.perf_counter()
        vector = self.embedder.encode([query])[0]
        t1 = time.perf_counter()
        hits = self._rank(index, query, vector)
        t2 = time.perf_counter()
        retrieval = self.settings.retrieval
        answer = compose(
            question,
            hits,
            index.chunk,
            index.idf,
            ComposeSettings(
                retrieval.top_k,
                retrieval.decline_below_cosine,
                retrieval.decline_below_coverage,
                retrieval.relative_cutoff,
            ),
            decline_message=self.decline_message(),
            limit=limit,
        )
        answer = with_citations(answer, index.manifest.documents)
        if note and not answer.declined:
            answer = Answer(answer.question, answer.quotes, answer.declined, note)
        t3 = time.perf_counter()
        return answer, Timings((t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3)

    def ranked_quotes(self, question: str, k: int = 10) -> list[Quote]:
        """The k best passages regardless of the decline threshold (for evaluation)."""
        query, _ = self._prepare(question)
        index = self.index
        hits = self._rank(index, query, self.embedder.encode([query])[0])
        settings = ComposeSettings(k, -1.0, 0.0, 0.0)
        answer = compose(
            question, hits, index.chunk, index.idf, settings, decline_message="", limit=k
        )
        return list(with_citations(answer, index.manifest.documents).quotes)

    def decline_message(self) -> str:
        names = sorted(self.index.manifest.documents)
        topics = ", ".join(_topic(name) for name in names[:5])
        more = f" and {len(names) - 5} more" if len(names) > 5 else ""
        return f"I could not find that in my documents. They cover: {topics}{more}."

    def _prepare(self, question: str) -> tuple[str, str | None]:
        query = normalize_for_matching(question)
        if not query:
            raise QuestionError("the question is empty; type a question to search the documents")
        limit = self.settings.retrieval.max_question_chars
        if len(query) > limit:
            cut = query.rfind(" ", 0, limit)
            query = query[: cut if cut > limit // 2 else limit]
            return (
                query,
                f"Your question was long; I searched for its first {len(query)} characters.",
            )
        return query, None

    def _rank(self, index: SearchIndex, query: str, vector: object) -> list[Hit]:
        import numpy as np

        candidates = self.settings.retrieval.candidates
        dense = index.dense(np.asarray(vector, dtype=np.float32), candidates)
        keyword = index.keyword(keyword_tokens(query), candidates)
        hits = fuse_weighted(dense, keyword, self.settings.retrieval.dense_weight)
        return boost_document_facts(query, hits, lambda chunk_id: index.chunk(chunk_id).text)


def _topic(source: str) -> str:
    stem = Path(source).stem.replace("_", " ").replace("-", " ")
    return " ".join(stem.split()) or source
