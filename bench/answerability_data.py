"""Dump, once, what the answerability score is fitted on: per question, its best candidate passages.

For every question of the dev sets (seed_dev, squad_dev, unanswerable_dev, SQuAD 2.0's own
unanswerable questions of the two squad_dev articles) and of our own set
(bench/data/answerability_own.jsonl, never used for fitting), the top candidates exactly as the
service ranks them, with their raw evidence (cosines, keyword rank, sentence cosines, idf of the
question's terms) and whether each contains an answer. Features are computed from this by
bench/answerability_fit.py, so a change of feature needs no re-embedding.

    .venv/bin/python bench/answerability_data.py [--out /tmp/decline/candidates.json]
    .venv/bin/python bench/answerability_data.py --report-sets --out /tmp/decline/report.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import EVAL, ROOT, real_embedder, settings_for

OWN = ROOT / "bench" / "data" / "answerability_own.jsonl"
# Questions only reported on, never fitted on (--report-sets; bench/answer_type_variants.py):
# the formats set, the first and standalone turns of the dev and our extra conversations, and
# our questions about what a document is about.
DOC_QUESTIONS = ROOT / "bench" / "data" / "document_questions.jsonl"
CONVERSATIONS = (
    ("conversations_dev", EVAL / "conversations" / "dev.jsonl"),
    ("conversations_extra", ROOT / "bench" / "data" / "conversations_extra.jsonl"),
)
CANDIDATES = 3


def article(question: str, docs: str | None, doc: str | None = None) -> str:
    """The article a question is about: the fold it belongs to (documents are kept whole)."""
    if doc:
        return Path(doc).stem
    if docs in (None, "seed"):
        return "seed"
    return "sky_united_kingdom" if "sky" in question.lower() else "normans"


def load_sets() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def jsonl(path: Path, name: str, own: bool = False) -> None:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                docs = r.get("docs") or ("squad_dev" if name == "squad_dev" else "seed")
                rows.append(
                    {
                        "set": name,
                        "question": r["question"],
                        "answers": r["answers"],
                        "knowledge": "seed" if docs == "seed" else "squad_dev",
                        "article": article(r["question"], docs, r.get("doc")),
                        "own": own,
                    }
                )

    jsonl(EVAL / "seed_dev.jsonl", "seed_dev")
    jsonl(EVAL / "squad_dev" / "questions.jsonl", "squad_dev")
    jsonl(EVAL / "unanswerable_dev.jsonl", "unanswerable_dev")
    squad = json.loads((EVAL / "squad_dev" / "squad.json").read_text(encoding="utf-8"))
    for entry in squad["data"]:
        name = "normans" if entry["title"] == "Normans" else "sky_united_kingdom"
        for paragraph in entry["paragraphs"]:
            for qa in paragraph["qas"]:
                if qa.get("is_impossible"):
                    rows.append(
                        {
                            "set": "squad_impossible",
                            "question": qa["question"],
                            "answers": [],
                            "knowledge": "squad_dev",
                            "article": name,
                            "own": False,
                        }
                    )
    jsonl(OWN, "own", own=True)
    return rows


def load_report_sets() -> list[dict[str, Any]]:
    """Questions of other sets, answered alone: marked `own` so no fit ever uses them."""
    rows: list[dict[str, Any]] = []

    def add(name: str, question: str, answers: list[str], knowledge: str, art: str) -> None:
        rows.append(
            {
                "set": name,
                "question": question,
                "answers": answers,
                "knowledge": knowledge,
                "article": art,
                "own": True,
            }
        )

    for line in (EVAL / "formats" / "questions.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            add("formats", r["question"], r["answers"], "formats", Path(r.get("doc") or "?").stem)
    for line in DOC_QUESTIONS.read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            docs = r.get("docs") or "seed"
            knowledge = "seed" if docs == "seed" else "squad_dev"
            add("document_questions", r["question"], r["answers"], knowledge, docs)
    for name, path in CONVERSATIONS:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            chat = json.loads(line)
            knowledge = "seed" if chat.get("docs", "seed") == "seed" else "squad_dev"
            for turn in chat["turns"]:
                if turn.get("kind") in ("first", "standalone"):
                    art = article(turn["question"], chat.get("docs"))
                    add(name, turn["question"], turn["answers"], knowledge, art)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=Path("/tmp/decline/candidates.json"))
    parser.add_argument(
        "--report-sets",
        action="store_true",
        help="dump the report-only sets (formats, conversation first turns, document questions)",
    )
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)

    import numpy as np

    from bot.answering.answer import rank
    from bot.answering.compose import ComposeSettings, compose
    from bot.answering.signals import focus_match, focus_words, passage_words, without_focus
    from bot.cli import compose_service
    from bot.evaluation.questions import contains_answer
    from bot.shared.text import keyword_tokens, sentence_spans

    embedder = real_embedder()
    folders = {"seed": ROOT / "knowledge", "squad_dev": EVAL / "squad_dev" / "docs"}
    if args.report_sets:
        folders["formats"] = EVAL / "formats" / "docs"
    services = {}
    for name, folder in folders.items():
        service = compose_service(
            settings_for(folder, args.out.parent / f"idx-{name}"), embedder=embedder
        )
        service.refresh()
        services[name] = service

    sentence_vectors: dict[str, Any] = {}
    word_vectors: dict[str, Any] = {}

    def embed_words(items: list[str]) -> Any:
        missing = [w for w in dict.fromkeys(items) if w not in word_vectors]
        if missing:
            for w, v in zip(missing, embedder.encode(missing), strict=True):
                word_vectors[w] = v
        return np.asarray([word_vectors[w] for w in items]).reshape(len(items), embedder.dimension)

    rows = load_report_sets() if args.report_sets else load_sets()
    for number, row in enumerate(rows):
        service = services[row["knowledge"]]
        index = service.index
        query = service.question(row["question"]).query
        vector, topic_vector = embedder.encode([query, without_focus(query)])
        hits = rank(index, query, vector, service.settings.retrieval)
        answer = compose(
            row["question"],
            hits,
            index.chunk,
            index.idf,
            ComposeSettings.keep_all(CANDIDATES),
            decline_message="",
            limit=CANDIDATES,
        )
        focus = embed_words([w.lower() for w in focus_words(row["question"])])
        by_span = {(index.chunk(h.chunk_id).source, index.chunk(h.chunk_id).start): h for h in hits}
        candidates = []
        for quote in answer.quotes:
            hit = by_span[(quote.source, quote.start)]
            sentences = [quote.text[s:e] for s, e in sentence_spans(quote.text)] or [quote.text]
            missing = [s for s in sentences if s not in sentence_vectors]
            if missing:
                for s, v in zip(missing, embedder.encode(missing), strict=True):
                    sentence_vectors[s] = v
            cosines = [float(np.dot(sentence_vectors[s], vector)) for s in sentences]
            topic = [float(np.dot(sentence_vectors[s], topic_vector)) for s in sentences]
            candidates.append(
                {
                    "text": quote.text,
                    "dense": hit.dense,
                    "keyword": hit.keyword,
                    "keyword_top": hit.keyword >= 1.0 - 1e-6,
                    "fact": hit.fact,
                    "fused": hit.score,
                    "sentence_cosine": max(cosines),
                    "topic_sentence_cosine": max(topic),
                    # per sentence, in order: for signals of which sentence is closest
                    "sentence_cosines": cosines,
                    "topic_sentence_cosines": topic,
                    "focus_match": focus_match(focus, embed_words(passage_words(quote.text))),
                    "hit": bool(row["answers"]) and contains_answer(quote.text, row["answers"]),
                }
            )
        n = index.manifest.chunk_count
        row["weights"] = index.idf(keyword_tokens(row["question"]))
        row["unknown_idf"] = math.log(1 + (n + 0.5) / 0.5)
        row["candidates"] = candidates
        if number % 50 == 0:
            print(f"{number}/{len(rows)}", file=sys.stderr)
    args.out.write_text(json.dumps(rows), encoding="utf-8")
    print(f"{len(rows)} questions -> {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
