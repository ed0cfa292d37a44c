"""Quick quality check of extraction on ../shared/eval/formats (no model, no index).

For each page/PDF: extract it (through the sandbox, as indexing does), split the text on blank lines
and also chunk it with the project's chunker, then report
  (a) paragraphs / chunks that contain a string of boilerplate.tsv (must be 0),
  (b) answer phrases of questions.jsonl found in some paragraph / chunk (case-insensitive,
      whitespace collapsed), next to the same count on the clean .txt version,
  (c) paragraph length distribution (count, median, p90, max) next to the clean .txt.

    python bench/formats_check.py [--eval-dir DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.ingest.chunking import ChunkerSettings, chunk_text
from bot.ingest.extraction import extract

DEFAULT_EVAL = Path("/work/shared/eval")
# file in formats/ -> (file whose questions apply, clean text it was made from)
CLEAN = {
    "docs/peoples_daily_jingzhou.html": (
        "peoples_daily_jingzhou.html",
        "seed/000_48e22df0c7aebbee.txt",
    ),
    "docs/normans.html": ("normans.html", "eval/squad_dev/docs/normans.txt"),
    "docs/sky_united_kingdom.pdf": (
        "sky_united_kingdom.pdf",
        "eval/squad_dev/docs/sky_united_kingdom.txt",
    ),
    "stress/sky_united_kingdom_typeset.pdf": (
        "sky_united_kingdom.pdf",
        "eval/squad_dev/docs/sky_united_kingdom.txt",
    ),
}


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def paragraphs(text: str) -> list[str]:
    return [p for p in re.split(r"\n[^\S\n]*\n\s*", text) if p.strip()]


def lengths(parts: list[str]) -> dict[str, float]:
    sizes = sorted(len(p) for p in parts)
    return {
        "count": len(sizes),
        "median": statistics.median(sizes),
        "p90": sizes[int(0.9 * (len(sizes) - 1))],
        "max": sizes[-1],
    }


def coverage(answers: list[list[str]], parts: list[str]) -> int:
    normed = [norm(p) for p in parts]
    return sum(1 for phrases in answers if any(norm(a) in p for a in phrases for p in normed))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-dir", type=Path, default=DEFAULT_EVAL)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    formats = args.eval_dir / "formats"
    shared = args.eval_dir.parent
    questions = [json.loads(line) for line in (formats / "questions.jsonl").open()]
    boiler: dict[str, list[str]] = {}
    for line in (formats / "boilerplate.tsv").read_text().splitlines():
        name, _, string = line.partition("\t")
        if string:
            boiler.setdefault(name, []).append(string)
    settings = ChunkerSettings()
    report = []
    for rel, (qdoc, clean_rel) in CLEAN.items():
        path = formats / rel
        started = time.perf_counter()
        extracted = extract(path, path.read_bytes())
        seconds = time.perf_counter() - started
        clean = (shared / clean_rel).read_text()
        answers = [q["answers"] for q in questions if q.get("doc") == qdoc and q["answers"]]
        paras = paragraphs(extracted.text)
        chunks = [c.text for c in chunk_text(rel, extracted.text, settings)]
        clean_paras = paragraphs(clean)
        clean_chunks = [c.text for c in chunk_text(clean_rel, clean, settings)]
        strings = boiler.get(Path(rel).name, [])
        row = {
            "file": rel,
            "seconds": round(seconds, 2),
            "chars": len(extracted.text),
            "clean_chars": len(clean),
            "title": extracted.title,
            "date": extracted.date,
            "url": extracted.url,
            "pages": len(extracted.pages),
            "sections": len(extracted.sections),
            "boilerplate_paragraphs": sum(
                1 for p in paras if any(norm(s) in norm(p) for s in strings)
            ),
            "boilerplate_chunks": sum(
                1 for c in chunks if any(norm(s) in norm(c) for s in strings)
            ),
            "questions": len(answers),
            "answers_in_paragraphs": coverage(answers, paras),
            "answers_in_chunks": coverage(answers, chunks),
            "clean_answers_in_paragraphs": coverage(answers, clean_paras),
            "clean_answers_in_chunks": coverage(answers, clean_chunks),
            "paragraphs": lengths(paras),
            "clean_paragraphs": lengths(clean_paras),
            "chunks": lengths(chunks),
            "clean_chunks": lengths(clean_chunks),
        }
        report.append(row)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        for row in report:
            print(
                f"{row['file']}  ({row['seconds']} s, {row['chars']} chars; clean "
                f"{row['clean_chars']})  title={row['title']!r} date={row['date']} "
                f"url={row['url']} pages={row['pages']} sections={row['sections']}"
            )
            print(
                f"  boilerplate: {row['boilerplate_paragraphs']} paragraphs, "
                f"{row['boilerplate_chunks']} chunks"
            )
            print(
                f"  answers found: paragraphs {row['answers_in_paragraphs']}/{row['questions']}"
                f" (clean {row['clean_answers_in_paragraphs']}), chunks "
                f"{row['answers_in_chunks']}/{row['questions']} "
                f"(clean {row['clean_answers_in_chunks']})"
            )
            for kind in ("paragraphs", "chunks"):
                a, b = row[kind], row[f"clean_{kind}"]
                print(
                    f"  {kind:10s} count/median/p90/max: {a['count']}/{a['median']}/{a['p90']}/"
                    f"{a['max']}   clean {b['count']}/{b['median']}/{b['p90']}/{b['max']}"
                )
    failed = any(r["boilerplate_chunks"] or r["boilerplate_paragraphs"] for r in report)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
