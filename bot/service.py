"""The one object every surface uses: keeps the index current and answers questions.

Swapping in a new index generation is a single reference assignment, so a question in flight is
answered entirely from the generation it started with; readers never take a lock. Refreshes are
serialised (one thread at a time per service, one process at a time per index via the store's
writer lock), because a watcher thread and a surface command may both ask for one.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.answering import answer as answering
from bot.answering.answer import AnswerSettings
from bot.answering.calibration import Calibration
from bot.answering.compose import Answer, Quote
from bot.answering.conversation import Conversation, FollowUpSettings
from bot.answering.decline import covered_message
from bot.answering.judge import PassageJudge
from bot.answering.question import Question
from bot.config import Settings
from bot.embedding.model import Embedder
from bot.embedding.questions import QuestionEmbedder
from bot.errors import KnowledgeError
from bot.index.changelog import ChangeEntry
from bot.index.document_text import document_text
from bot.index.generation import DocumentRecord, IndexRecipe, SearchIndex
from bot.index.judge_vectors import JudgeVectorStore
from bot.index.report import UpdateReport
from bot.index.storage import SharedStore, Store
from bot.index.update import ProgressCallback, update_index
from bot.ingest.skip_warnings import FILE_NAME as WARNED_FILE
from bot.ingest.skip_warnings import WarnedFiles

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


def log_notice(message: str) -> None:
    """Where a service's notices go when nobody asked for them: the log."""
    log.info("%s", message)


class QuoteService:
    """Composition and lifecycle over what it is given (bot.cli composes the embedder and the
    store): which generation is served, refreshing it, and answering from it."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder,
        store: Store,
        on_notice: Callable[[str], None] | None = None,
        calibration: Calibration | None = None,
    ) -> None:
        self.settings = settings
        self._notice = on_notice or log_notice
        self.embedder: Embedder = embedder
        self.store: Store = store
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
        # Its sentence and word vectors come from the table the writer fills, when the store
        # keeps one (bot.index.judge_vectors).
        self.judge = PassageJudge(
            self.embedder,
            calibration,
            store.judge_vector_reader if isinstance(store, JudgeVectorStore) else None,
            prepare=self.prepare_questions,
        )

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
                judge=self.judge if self.judge.applies else None,
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
            # With ONNX a batch gives each text the vector it gets alone (padding is masked
            # exactly), so the judge's question-without-focus and its focus words not yet
            # known ride along in the same call.
            batched = self.judge.applies and getattr(self.embedder, "runtime", None) == "onnx"
            companions = self.judge.companions(text) if batched else []
            if not companions:
                return self.embedder.encode_question(text)
            import numpy as np  # at run time only here: the module's other uses are type hints

            vectors = np.asarray(self.embedder.encode_questions([text, *companions]))
            self.judge.remember(text, companions, vectors[1:])
            return np.asarray(vectors[0], dtype=np.float32)
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
        """Exactly the text the quote offsets of `source` refer to (bot.index.document_text)."""
        follow = self.settings.knowledge.follow_external_links
        return document_text(self.index, self.knowledge, source, follow_external_links=follow)

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
        index = self.index  # one generation for the whole question: never read self.index again
        t0 = time.perf_counter()
        vector = self.question_vector(asked.query)
        t1 = time.perf_counter()
        ranked: list[float] = []
        answer, _ = answering.answer(
            index,
            vector,
            asked,
            Conversation(),
            self._answer_settings(),
            embed=self.question_vector,
            decline_message=self.decline_message(index),
            judge=self.judge if self.judge.applies else None,
            limit=limit,
            on_ranked=lambda: ranked.append(time.perf_counter()),
        )
        t3 = time.perf_counter()
        t2 = ranked[0]
        return answer, Timings((t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3)

    def converse(
        self, conversation: Conversation, question: str | Question
    ) -> tuple[Answer, Conversation]:
        """Answer a turn of a conversation and return the conversation with that turn added.

        First turns and self-contained questions are answered exactly as `ask` answers them.
        """
        asked = self.question(question)
        index = self.index
        return answering.answer(
            index,
            None,  # embedded by answer() unless the turn asks for more (that needs no vector)
            asked,
            conversation,
            self._answer_settings(),
            embed=self.question_vector,
            decline_message=self.decline_message(index),
            judge=self.judge if self.judge.applies else None,
        )

    def ranked_quotes(
        self, question: str, k: int = 10, *, index: SearchIndex | None = None
    ) -> list[Quote]:
        """The k best passages regardless of the decline threshold (evaluation, "more"), from
        `index` when the caller already holds a generation."""
        asked = self.question(question)
        index = index or self.index
        vector = self.question_vector(asked.query)
        return answering.ranked_quotes(index, vector, asked, k, self.settings.retrieval)

    def decline_message(self, index: SearchIndex | None = None) -> str:
        """Names the first documents; kept per generation (a shared store looks them up)."""
        manifest = (index or self.index).manifest
        key = (manifest.generation, manifest.created_at)
        cached = self._decline_by_generation
        if cached is not None and cached[0] == key:
            return cached[1]
        message = covered_message(manifest)
        self._decline_by_generation = (key, message)
        return message

    def _answer_settings(self) -> AnswerSettings:
        return AnswerSettings(self.settings.retrieval, self.follow_ups)
