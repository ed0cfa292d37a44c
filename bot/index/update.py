"""Bring an index up to date with a knowledge folder, embedding only what changed.

Planning happens twice: once without the writer lock (so an up-to-date index costs only hashing and
readers never wait), and again under the lock, against whatever the previous writer committed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bot.embedding.model import Embedder
from bot.errors import IndexCorruptError, KnowledgeError
from bot.index.diff import Reread, change_entry, document_changes
from bot.index.generation import (
    DocumentRecord,
    IndexRecipe,
    Manifest,
    SearchIndex,
    SkippedRecord,
    embedding_input,
)
from bot.index.judge_vectors import JudgeWriter, bring_up_to_date
from bot.index.report import UpdateReport
from bot.index.storage import Store, UpdateJournal
from bot.ingest.chunking import Chunk, chunk_text
from bot.ingest.documents import (
    Document,
    DocumentFile,
    DocumentSkipped,
    DocumentUnreadable,
    FolderScan,
    Problem,
    folder_warning,
    read_document,
    scan_folder,
    supported_suffixes,
)
from bot.ingest.extraction import EXTRACTOR_VERSION, READER_VERSION
from bot.ingest.safe_read import identity
from bot.shared.wording import plural

ProgressCallback = Callable[[int, int], None]
EMBED_BATCH = 64


@dataclass(frozen=True, slots=True)
class _Plan:
    to_read: list[DocumentFile]
    keep: dict[str, DocumentRecord]
    keep_skipped: dict[str, SkippedRecord]
    previous: dict[str, DocumentRecord]  # what the current generation holds (for the report)
    rebuild_reason: str | None
    forget: bool  # documents or skip records disappeared from the folder
    problems: list[Problem]  # unreadable files (kept at their previous version), links, pipes

    @property
    def nothing_to_do(self) -> bool:
        return not (self.to_read or self.forget or self.rebuild_reason)


def update_index(
    folder: Path,
    store: Store,
    recipe: IndexRecipe,
    embedder: Embedder,
    *,
    progress: ProgressCallback | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    follow_external_links: bool = False,
    judge: JudgeWriter | None = None,
) -> tuple[SearchIndex, UpdateReport]:
    """Check the folder against the index; re-embed added and changed documents only.

    Costs only hashing when nothing changed: the model is touched only when chunks need vectors.
    A corrupt index, or one built with another recipe (model, chunker), is rebuilt from scratch
    and the reason is `rebuild_reason` (one line). A file that cannot be read keeps its previous
    version in the index (with a warning), so a file caught mid-save never disappears; a link out
    of the folder is skipped unless `follow_external_links` (see bot.ingest.documents).

    With a `judge` (when the answer judge applies to this model), the store's judge vector table
    is filled for the new generation's new chunks, or for all of them the first time (see
    bot.index.judge_vectors); an up-to-date index whose table is complete costs one more read.
    """
    scan = scan_folder(folder, follow_external_links=follow_external_links)
    if not (scan.files or scan.unreadable or scan.unreadable_folders):
        raise KnowledgeError(
            f"no readable documents ({supported_suffixes()}) in the knowledge folder {folder}"
            + _listed(scan.problems)
        )
    current, corrupt = _open_current(store)
    plan = _plan(scan, current.manifest if current else None, recipe, corrupt)
    if plan.nothing_to_do and current is not None:
        store.tidy()  # a writer killed after its commit leaves the old generation behind
        _require_documents(folder, current.manifest)
        bring_up_to_date(store, judge, current, None)
        return current, _report(plan, current.manifest, 0, plan.problems)
    with store.writer_lock():
        # Another writer may have committed while we waited: look again at the folder and plan
        # against what is there now; if it already did our work, commit nothing.
        scan = scan_folder(folder, follow_external_links=follow_external_links)
        current, corrupt = _open_current(store)
        manifest = current.manifest if current else None
        plan = _plan(scan, manifest, recipe, corrupt)
        idle = plan.nothing_to_do and current is not None
        notes: list[Problem] = []
        interrupted: str | None = None
        new_chunks: list[Chunk] | None = None  # None: nothing committed
        if idle and current is not None:
            index = current
        else:
            index, new_chunks, notes, interrupted = _apply(
                plan, manifest, store, recipe, embedder, progress, now, previous=current
            )
        embedded = len(new_chunks or ())
        bring_up_to_date(store, judge, index, new_chunks)
    if idle:
        store.tidy()  # takes the lock itself, so only once ours is released
    _require_documents(folder, index.manifest)
    report = _report(plan, index.manifest, embedded, plan.problems + notes)
    return index, replace(report, interrupted=interrupted)


def _open_current(store: Store) -> tuple[SearchIndex | None, str | None]:
    """The current generation, fully checked; a corrupt one is reported and treated as absent."""
    try:
        return store.open(), None
    except IndexCorruptError as exc:
        return None, str(exc)


def current(file: DocumentFile) -> tuple[str, str]:
    return file.sha256, EXTRACTOR_VERSION


def _plan(
    scan: FolderScan,
    manifest: Manifest | None,
    recipe: IndexRecipe,
    corrupt: str | None = None,
) -> _Plan:
    # One streamed read of every record (a PostgreSQL manifest looks records up on demand).
    previous = dict(manifest.documents.items()) if manifest else {}
    reason = corrupt or (manifest.recipe.difference(recipe) if manifest is not None else None)
    old_docs = {} if reason else previous
    old_skipped = manifest.skipped if manifest and not reason else {}
    to_read: list[DocumentFile] = []
    keep: dict[str, DocumentRecord] = {}
    keep_skipped: dict[str, SkippedRecord] = {}
    problems: list[Problem] = []
    for prefix, folder in sorted(scan.unreadable_folders.items()):
        kept = [source for source in old_docs if source.startswith(prefix)]
        keep.update((source, old_docs[source]) for source in kept)
        message = folder_warning(prefix, folder.reason, len(kept))
        problems.append(Problem(prefix, message, folder.identity))
    for source, why in sorted(scan.unreadable.items()):
        if source in old_docs:
            keep[source] = old_docs[source]
            message = f"cannot read {source} ({why.reason}); still serving its previous version"
        else:
            message = f"skipping {source}: cannot read it ({why.reason})"
        problems.append(Problem(source, message, why.identity))
    problems.extend(scan.problems)
    for file in scan.files:
        record = old_docs.get(file.source)
        skipped = old_skipped.get(file.source)
        # Same bytes and same extractor: the text (and so the chunks and vectors) are the same.
        if record is not None and (record.sha256, record.extractor) == current(file):
            keep[file.source] = record
        elif skipped is not None and (skipped.sha256, skipped.extractor) == (
            file.sha256,
            READER_VERSION,
        ):
            keep_skipped[file.source] = skipped
        else:
            to_read.append(file)
    present = {file.source for file in scan.files} | set(scan.unreadable) | set(keep)
    forget = bool((set(old_docs) | set(old_skipped)) - present)
    return _Plan(to_read, keep, keep_skipped, previous, reason, forget, problems)


def _apply(
    plan: _Plan,
    manifest: Manifest | None,
    store: Store,
    recipe: IndexRecipe,
    embedder: Embedder,
    progress: ProgressCallback | None,
    now: Callable[[], datetime],
    *,
    previous: SearchIndex | None = None,
) -> tuple[SearchIndex, list[Chunk], list[Problem], str | None]:
    """Embed what the plan says and commit a new generation (with its changelog entry, against
    the `previous` generation); returns it, the chunks embedded, the documents this
    run could not read, and a notice if a killed update's work was redone."""
    timestamp = now().isoformat(timespec="seconds")
    new_chunks: list[Chunk] = []
    records = dict(plan.keep)
    skipped = dict(plan.keep_skipped)
    notes: list[Problem] = []
    fresh: set[str] = set()
    reread: dict[str, Reread] = {}
    reusable = {} if plan.rebuild_reason else plan.previous
    for file in plan.to_read:
        try:
            document = read_document(file)
        except DocumentUnreadable as exc:  # vanished or locked since it was hashed
            if file.source in reusable:
                records[file.source] = reusable[file.source]
                message = f"cannot read {file.source} ({exc}); still serving its previous version"
            else:
                message = f"skipping {file.source}: cannot read it ({exc})"
            notes.append(Problem(file.source, message, identity(file.path)))
            continue
        except DocumentSkipped as exc:
            skipped[file.source] = SkippedRecord(file.source, file.sha256, str(exc), READER_VERSION)
            continue
        chunks = chunk_text(document.source, document.text, recipe.chunker)
        new_chunks.extend(chunks)
        fresh.add(document.source)
        reread[document.source] = Reread(document.text, chunks)
        records[document.source] = _record(document, len(chunks), timestamp)
    if not records:
        raise KnowledgeError(
            f"no readable documents ({supported_suffixes()}) in the knowledge folder"
            + _listed(plan.problems + notes + _skip_problems(skipped.values()))
        )
    generation = _next_generation(store, manifest)
    journal = UpdateJournal(timestamp, len(fresh), len(new_chunks), generation)
    left = store.begin_update(journal)
    interrupted = (
        interrupted_notice(left, journal)
        if left is not None and (manifest is None or manifest.generation < left.generation)
        else None
    )
    vectors = _embed(new_chunks, embedder, progress)
    dimension = (
        vectors.shape[1]
        if new_chunks
        else manifest.dimension
        if manifest is not None
        else embedder.dimension
    )
    new_manifest = Manifest(
        recipe=recipe,
        dimension=dimension,
        documents=dict(sorted(records.items())),
        skipped=dict(sorted(skipped.items())),
        generation=generation,
        created_at=timestamp,
        model_info=_model_info(embedder, manifest, bool(new_chunks)),
    )
    change = change_entry(
        new_manifest.generation,
        timestamp,
        document_changes(
            plan.previous if previous is not None else {},
            new_manifest.documents,
            reread,
            previous.passages if previous is not None else lambda source: [],
        ),
        plan.rebuild_reason,
    )
    index = store.commit(new_manifest, set(records) - fresh, new_chunks, vectors, change=change)
    return index, new_chunks, notes, interrupted


def interrupted_notice(left: UpdateJournal, now: UpdateJournal) -> str:
    """One line on an update that was killed before it committed: nothing of it was kept (its
    vectors lived only in memory), so its documents are embedded again by this update."""
    started = f", started {left.started_at}," if left.started_at else ""
    planned = (
        f" ({plural(left.chunks, 'chunk')} of {plural(left.documents, 'document')} to embed)"
        if left.started_at
        else ""
    )
    return (
        f"the previous update{started} was interrupted before it was saved{planned}; "
        f"nothing of it was kept: re-embedding {plural(now.chunks, 'chunk')} of "
        f"{plural(now.documents, 'document')}"
    )


def _record(document: Document, chunks: int, timestamp: str) -> DocumentRecord:
    extracted = document.extracted
    return DocumentRecord(
        document.source,
        document.sha256,
        document.size,
        chunks,
        len(document.text),
        timestamp,
        format=extracted.format if extracted else "text",
        title=extracted.title if extracted else None,
        date=extracted.date if extracted else None,
        url=extracted.url if extracted else None,
        author=extracted.author if extracted else None,
        extractor=EXTRACTOR_VERSION,
        pages=extracted.pages if extracted else (),
        sections=extracted.sections if extracted else (),
        encoding=extracted.encoding if extracted else None,
    )


def _next_generation(store: Store, manifest: Manifest | None) -> int:
    if manifest is not None:
        return manifest.generation + 1
    try:
        previous = store.read_manifest()
    except IndexCorruptError:
        previous = None
    return previous.generation + 1 if previous else 1


def _embed(
    chunks: list[Chunk], embedder: Embedder, progress: ProgressCallback | None
) -> np.ndarray:
    if not chunks:
        return np.zeros((0, 0), dtype=np.float32)
    parts = []
    for start in range(0, len(chunks), EMBED_BATCH):
        batch = chunks[start : start + EMBED_BATCH]
        parts.append(embedder.encode([embedding_input(chunk) for chunk in batch]))
        if progress:
            progress(min(start + EMBED_BATCH, len(chunks)), len(chunks))
    return np.concatenate(parts).astype(np.float32)


def _model_info(embedder: Embedder, manifest: Manifest | None, loaded: bool) -> dict[str, Any]:
    if not loaded and manifest is not None:
        return manifest.model_info
    info: dict[str, Any] = {"normalized": True, "revision": embedder.spec.revision}
    max_seq_length = getattr(embedder, "max_seq_length", None)
    if max_seq_length is not None:
        info["max_seq_length"] = max_seq_length
    info["libraries"] = library_versions()
    return info


def library_versions() -> dict[str, str]:
    """Versions of what produced the vectors, for the manifest (as txtai records them).

    Read from package metadata, so torch is not imported just to record its version.
    """
    from importlib.metadata import PackageNotFoundError, version

    found: dict[str, str] = {}
    for name in ("quotebot", "sentence-transformers", "transformers", "torch", "numpy"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def _skip_problems(records: Iterable[SkippedRecord]) -> list[Problem]:
    """Documents refused for their content; the same bytes give the same reason."""
    return [
        Problem(r.source, f"skipping {r.source}: {r.reason}", f"{r.sha256}|{r.extractor}")
        for r in records
    ]


def _listed(problems: list[Problem], shown: int = 3) -> str:
    """' (skipped: a.txt: why; …)' for an error that says no document could be read."""
    if not problems:
        return ""
    reasons = [p.message.removeprefix("skipping ") for p in problems[:shown]]
    more = f"; {len(problems) - shown} more" if len(problems) > shown else ""
    return f" ({'; '.join(reasons)}{more})"


def _require_documents(folder: Path, manifest: Manifest) -> None:
    if not manifest.documents:
        raise KnowledgeError(
            f"no readable documents ({supported_suffixes()}) in the knowledge folder {folder}"
        )


def _report(
    plan: _Plan, manifest: Manifest, embedded: int, problems: list[Problem]
) -> UpdateReport:
    """Counts from the difference between the previous and the new generation; the problems are
    the plan's and the run's plus every document the new generation holds as skipped."""
    problems = problems + _skip_problems(manifest.skipped.values())
    new, old = dict(manifest.documents.items()), plan.previous
    rebuilt = plan.rebuild_reason is not None
    return UpdateReport(
        added=sorted(s for s in new if s not in old),
        changed=sorted(s for s in new if s in old and (rebuilt or old[s].sha256 != new[s].sha256)),
        removed=sorted(s for s in old if s not in new),
        unchanged=sorted(
            s for s in new if s in old and not rebuilt and old[s].sha256 == new[s].sha256
        ),
        chunks_embedded=embedded,
        chunks_total=manifest.chunk_count,
        warnings=[problem.message for problem in problems],
        rebuild_reason=plan.rebuild_reason,
        generation=manifest.generation,
        problems=tuple(problems),
    )
