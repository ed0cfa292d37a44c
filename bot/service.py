"""The one object every surface uses: keeps the index current and answers questions.

Swapping in a new index generation is a single reference assignment, so a question in flight is
answered entirely from the generation it started with; readers never take a lock. Refreshes are
serialised (one thread at a time per service, one process at a time per index via the store's
writer lock), because a watcher thread and a surface command may both ask for one.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.answering.calibration import Calibration
from bot.answering.citation import with_citations
from bot.answering.compose import (
    Answer,
    ComposeSettings,
    IdfLookup,
    Judge,
    Quote,
    compose,
    memoised,
)
from bot.answering.conversation import (
    Conversation,
    FollowUpSettings,
    Ranking,
    Turn,
    answer_query,
    blend,
    depends_on_context,
    expanded_query,
    is_more_request,
)
from bot.answering.decline import not_found_message
from bot.answering.intents import proper_names
from bot.answering.judge import PassageJudge
from bot.answering.question import Question
from bot.answering.retrieval import Hit, boost_document_facts, boost_enumeration, fuse_weighted
from bot.config import Settings
from bot.embedding.model import Embedder
from bot.embedding.questions import QuestionEmbedder, make_embedder
from bot.errors import KnowledgeError
from bot.index.changelog import ChangeEntry
from bot.index.generation import DocumentRecord, IndexRecipe, SearchIndex, bm25_idf
from bot.index.storage import SharedStore, Store
from bot.index.update import ProgressCallback, UpdateReport, update_index
from bot.ingest.chunking import Chunk
from bot.ingest.skip_warnings import FILE_NAME as WARNED_FILE
from bot.ingest.skip_warnings import WarnedFiles
from bot.shared.text import keyword_tokens
from bot.stores.open_store import open_store

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)


def _warned_file(store: Store) -> Path | None:
    """Beside the files store's index; a database store remembers warnings per process."""
    from bot.stores.files import FileStore

    return store.directory / WARNED_FILE if isinstance(store, FileStore) else None


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
        calibration: Calibration | None = None,
    ) -> None:
        self.settings = settings
        self._notice = on_notice or (lambda message: log.info("%s", message))
        self.embedder: Embedder = embedder or make_embedder(settings, self._notice)
        self.store: Store = store or open_store(settings, self._notice)
        # A shared store (PostgreSQL) has one writer and any number of readers: only `quotebot
        # index` and processes started with --watch update it; the others serve what the writer
        # made current, so a reader elsewhere (another folder, or none) never rewrites the index.
        self.writes_index: bool = (
            not isinstance(self.store, SharedStore) or settings.knowledge.watch
        )
        self._index: SearchIndex | None = None
        self._refresh_lock = threading.Lock()
        self._warned = WarnedFiles(_warned_file(self.store))
        self._decline_by_generation: tuple[tuple[int, str], str] | None = None
        self.follow_ups = FollowUpSettings()  # bench/followup_cv.py varies it
        # Scores quotes and declines what the documents do not answer (bundled calibration).
        self.judge = PassageJudge(self.embedder, calibration)

    @property
    def knowledge(self) -> Path:
        return self.settings.knowledge.path

    @property
    def index(self) -> SearchIndex:
        """The generation to answer from; on a shared store, the one its writer made current."""
        if self._index is None:
            self.refresh()
        assert self._index is not None
        if isinstance(self.store, SharedStore):
            self._index = self.store.latest(self._index)
        return self._index

    def recipe(self) -> IndexRecipe:
        return IndexRecipe(self.embedder.spec.model_id, self.settings.chunking.to_chunker())

    def refresh(self, progress: ProgressCallback | None = None) -> UpdateReport:
        """Bring the index up to date with the knowledge folder and serve the result.

        On any error (disk full, lock timeout, empty folder) the generation being served stays.
        """
        if not self.writes_index:
            return self._serve_current()
        with self._refresh_lock:
            index, report = update_index(
                self.knowledge,
                self.store,
                self.recipe(),
                self.embedder,
                progress=progress,
                follow_external_links=self.settings.knowledge.follow_external_links,
            )
            self._index = index  # the swap: one reference assignment
            # Each skipped file is said once per change of the file, not before every question.
            report = dataclasses.replace(report, warnings=self._warned.fresh(report.problems))
        return report

    def serve_latest(self) -> int | None:
        """The store's current generation (a cheap read: its manifest), served from now on if a
        writer elsewhere (`quotebot index`, a watcher in another process) landed a newer one.
        None when there is no index yet. The Discord bot polls this (bot.index.generation_watch)."""
        manifest = self.store.read_manifest()
        if manifest is None:
            return None
        serving = self._index
        if serving is None or serving.manifest.generation != manifest.generation:
            with self._refresh_lock:
                index = self.store.open()
                if index is not None:
                    self._index = index
                    return index.manifest.generation
        return manifest.generation

    def _serve_current(self) -> UpdateReport:
        """A reader of a shared store: serve the writer's current generation as it is."""
        index = self.store.open()
        if index is None:
            raise KnowledgeError(
                f"the index at {self.store.describe()} is empty: run `quotebot index` where the "
                "documents are (the writer) first"
            )
        self._index = index
        return UpdateReport(
            chunks_total=index.manifest.chunk_count, generation=index.manifest.generation
        )

    def prepare_questions(self) -> None:
        """Settle how questions are embedded before the first one; a writer (this process
        updates the index) makes the ONNX export if it is missing or damaged."""
        if isinstance(self.embedder, QuestionEmbedder):
            self.embedder.prepare_questions(writer=self.writes_index)

    def question_vector(self, text: str) -> np.ndarray:
        """The question's vector: by the ONNX runtime when the embedder has one."""
        if isinstance(self.embedder, QuestionEmbedder):
            self.prepare_questions()
            return self.embedder.encode_question(text)
        return self.embedder.encode([text]).reshape(-1)

    def sources(self) -> list[DocumentRecord]:
        return list(self.index.manifest.documents.values())

    def changes(self) -> list[ChangeEntry]:
        """The changelog the writer kept, oldest first (bounded by its retention)."""
        return self.store.read_changes()

    def document_count(self) -> int:
        """How many documents are served (without reading their records)."""
        return len(self.index.manifest.documents)

    def document_text(self, source: str) -> str:
        """Exactly the text the quote offsets of `source` refer to (extracted again, same bytes).

        Extraction is a deterministic function of the bytes and EXTRACTOR_VERSION, both recorded
        in the manifest, so the text need not be stored; a file changed since indexing is refused.
        """
        from bot.ingest.documents import DocumentSkipped, locate, read_document

        record = self.index.manifest.documents.get(source)
        if record is None:
            raise KnowledgeError(f"no indexed document {source!r} (see: quotebot sources)")
        follow = self.settings.knowledge.follow_external_links
        try:
            file = locate(self.knowledge, source, follow_external_links=follow)
            document = read_document(file, encoding=record.encoding)
        except DocumentSkipped as exc:
            raise KnowledgeError(f"cannot read {source}: {exc}") from None
        if document.sha256 != record.sha256:
            raise KnowledgeError(f"{source} changed since it was indexed; run: quotebot index")
        return document.text

    def question(self, text: str | Question) -> Question:
        """`text` as a Question (raises QuestionError if empty); a Question passes through."""
        if isinstance(text, Question):
            return text
        return Question.parse(text, self.settings.retrieval.max_question_chars)

    def ask(self, question: str | Question) -> Answer:
        return self.answer(question)[0]

    def answer(
        self, question: str | Question, *, limit: int | None = None
    ) -> tuple[Answer, Timings]:
        """Answer one question from the current generation; raises QuestionError if empty.

        `Answer.generation` names the index generation every part of the answer came from.
        """
        import time

        asked = self.question(question)
        query = asked.query
        index = self.index  # one generation for the whole question: never read self.index again
        t0 = time.perf_counter()
        vector = self.question_vector(query)
        t1 = time.perf_counter()
        hits = self._rank(index, query, vector)
        t2 = time.perf_counter()
        idf = memoised(index.idf)
        judge = (
            self.judge.for_question(index, asked.text, query, vector, idf)
            if self.judge.applies
            else None
        )
        composed = self._compose(asked.shown, hits, index, limit=limit, judge=judge, idf=idf)
        answer = _noted(composed, asked.note)
        t3 = time.perf_counter()
        return answer, Timings((t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3)

    def converse(
        self, conversation: Conversation, question: str | Question
    ) -> tuple[Answer, Conversation]:
        """Answer a turn of a conversation and return the conversation with that turn added.

        First turns and self-contained questions are answered exactly as `ask` answers them.
        """
        asked = self.question(question)
        query, note = asked.query, asked.note
        question = asked.shown  # cut: what was searched is what is echoed and remembered
        index = self.index
        last = conversation.last
        if last is not None and last.quotes and is_more_request(question):
            answer = with_citations(
                self._widen(index, question, conversation), index.manifest.documents
            )
            answer = dataclasses.replace(answer, generation=index.manifest.generation)
            turn = Turn(question, last.query, answer.quotes, answer.context)
            return _noted(answer, note), conversation.add(turn)
        if last is None or not depends_on_context(question):
            answer = self.ask(asked)
            return answer, conversation.add(Turn(question, query, answer.quotes))
        expanded, context = expanded_query(conversation, query)
        weights = self.follow_ups
        answered = answer_query(conversation, query)
        own_weight = weights.own_weight + (weights.answer_weight if answered is None else 0.0)
        rankings = [
            Ranking(own_weight, self._rank(index, query, self.question_vector(query))),
            Ranking(weights.context_weight, self._rank_for(index, expanded, query)),
        ]
        if answered is not None:
            hits = self._rank_for(index, answered, query)
            rankings.append(Ranking(weights.answer_weight, hits))
        hits = blend(rankings)
        answer = _noted(
            dataclasses.replace(self._compose(question, hits, index), context=context), note
        )
        return answer, conversation.add(Turn(question, expanded, answer.quotes, context))

    def _rank_for(self, index: SearchIndex, text: str, intent: str) -> list[Hit]:
        return self._rank(index, text, self.question_vector(text), intent=intent)

    def _widen(self, index: SearchIndex, question: str, conversation: Conversation) -> Answer:
        """The passages around the last answer's best quote, never one already shown."""
        last = conversation.last
        assert last is not None and last.quotes
        shown = conversation.shown()
        top = last.quotes[0]
        before, after = index.adjacent(top.source, top.start, top.end)
        fresh = [c for c in (after, before) if c is not None and not _was_shown(c, shown)]
        quotes = [Quote(c.source, c.start, c.end, c.text, None, 0.0, c.paragraph) for c in fresh]
        if len(quotes) < self.settings.retrieval.top_k:
            for quote in self.ranked_quotes(last.query, 10, index=index):
                if len(quotes) >= self.settings.retrieval.top_k:
                    break
                if not any(_same_span(quote, q) for q in [*shown, *quotes]):
                    quotes.append(quote)
        context = (*last.used_context, last.question)[-2:]
        if not quotes:
            return Answer(question, (), True, "That is all my documents say about it.", context)
        return Answer(
            question, tuple(quotes[: self.settings.retrieval.top_k]), False, None, context
        )

    def _compose(
        self,
        question: str,
        hits: list[Hit],
        index: SearchIndex,
        *,
        limit: int | None = None,
        judge: Judge | None = None,
        idf: IdfLookup | None = None,
    ) -> Answer:
        """Quotes with citations from `index` alone (decline message included), stamped with
        its generation. With a `judge` (questions asked alone; follow-ups are judged by the
        conversation instead), a question is also declined when its best passage is unlikely
        to answer it, and every score is that calibrated probability."""
        retrieval = self.settings.retrieval
        idf = idf or memoised(index.idf)
        answer = compose(
            question,
            hits,
            index.chunk,
            idf,
            ComposeSettings.from_settings(retrieval),
            decline_message=self.decline_message(index),
            limit=limit,
            foreign_names=_names_unknown_to(index, question, idf),
            judge=judge,
            decline_below=self.judge.threshold,
            not_found_message=not_found_message(question),
        )
        answer = with_citations(answer, index.manifest.documents)
        return dataclasses.replace(answer, generation=index.manifest.generation)

    def ranked_quotes(
        self, question: str, k: int = 10, *, index: SearchIndex | None = None
    ) -> list[Quote]:
        """The k best passages regardless of the decline threshold (evaluation, "more"), from
        `index` when the caller already holds a generation."""
        query = self.question(question).query
        index = index or self.index
        hits = self._rank(index, query, self.question_vector(query))
        settings = ComposeSettings.keep_all(k)
        answer = compose(
            question, hits, index.chunk, index.idf, settings, decline_message="", limit=k
        )
        return list(with_citations(answer, index.manifest.documents).quotes)

    def decline_message(self, index: SearchIndex | None = None) -> str:
        """Names the first documents; kept per generation (a shared store looks them up)."""
        manifest = (index or self.index).manifest
        key = (manifest.generation, manifest.created_at)
        cached = self._decline_by_generation
        if cached is not None and cached[0] == key:
            return cached[1]
        names = list(itertools.islice(manifest.documents, 5))  # documents iterate in source order
        topics = ", ".join(_topic(name) for name in names)
        count = len(manifest.documents)
        more = f" and {count - 5} more" if count > 5 else ""
        message = f"I could not find that in my documents. They cover: {topics}{more}."
        self._decline_by_generation = (key, message)
        return message

    def _rank(
        self, index: SearchIndex, query: str, vector: object, intent: str | None = None
    ) -> list[Hit]:
        """Fused ranking for `query`; document-structure intents are read from `intent` (the
        follow-up itself, when `query` is expanded by earlier turns)."""
        import numpy as np

        candidates = self.settings.retrieval.candidates
        dense = index.dense(np.asarray(vector, dtype=np.float32), candidates)
        keyword = index.keyword(keyword_tokens(query), candidates)
        hits = fuse_weighted(dense, keyword, self.settings.retrieval.dense_weight)
        intent = intent or query
        hits = boost_document_facts(intent, hits, index.chunk)
        return boost_enumeration(intent, hits, index.chunk)


def _noted(answer: Answer, note: str | None) -> Answer:
    """An answer to a question that was cut says so (`question_truncated`, and the note as its
    message unless it has one: a decline explains itself)."""
    if note is None:
        return answer
    return dataclasses.replace(answer, message=answer.message or note, question_truncated=True)


def _names_unknown_to(index: SearchIndex, question: str, idf: IdfLookup) -> bool:
    """True when the question names things (capitalised words) and no passage contains any."""
    names = keyword_tokens(" ".join(proper_names(question)))
    if not names:
        return False
    never_seen = bm25_idf(0, index.manifest.chunk_count)
    return all(weight >= never_seen - 1e-9 for weight in idf(names).values())


def _was_shown(chunk: Chunk, shown: list[Quote]) -> bool:
    return any(
        q.source == chunk.source and q.start < chunk.end and chunk.start < q.end for q in shown
    )


def _same_span(a: Quote, b: Quote) -> bool:
    return a.source == b.source and a.start < b.end and b.start < a.end


def _topic(source: str) -> str:
    stem = Path(source).stem.replace("_", " ").replace("-", " ")
    return " ".join(stem.split()) or source
