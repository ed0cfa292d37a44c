"""Quotes over ../shared/eval/formats through the real service: per-document hit@1/hit@3, and for
every quote returned (ask + top-10 ranking) whether it is verbatim against `quotebot text` and
free of boilerplate.tsv strings. Needs the real model (offline).

    python bench/formats_quotes.py KNOWLEDGE_DIR INDEX_DIR [KNOWLEDGE_DIR INDEX_DIR ...]
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.cli import compose_service
from bot.config import load_settings
from bot.embedding.model import Embedder

FORMATS = Path("/work/shared/eval/formats")


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def main(argv: list[str]) -> int:
    questions = [json.loads(line) for line in (FORMATS / "questions.jsonl").open()]
    boiler: dict[str, list[str]] = defaultdict(list)
    for line in (FORMATS / "boilerplate.tsv").read_text().splitlines():
        name, _, string = line.partition("\t")
        boiler[name].append(string)
    embedder: Embedder | None = None
    failed = False
    for folder, index_dir in zip(argv[::2], argv[1::2], strict=True):
        settings = load_settings(
            None, {"knowledge": {"path": Path(folder)}, "index": {"dir": Path(index_dir)}}
        )
        service = compose_service(settings, embedder=embedder, on_notice=lambda m: None)
        embedder = service.embedder
        service.refresh()
        per_doc: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        texts = {r.source: service.document_text(r.source) for r in service.sources()}
        checked = not_verbatim = with_boilerplate = 0
        for q in questions:
            ranked = service.ranked_quotes(q["question"], 10)
            if q["answers"]:
                top = ranked[:3]
                rank = next(
                    (
                        i
                        for i, quote in enumerate(top)
                        if any(norm(a) in norm(quote.text) for a in q["answers"])
                    ),
                    None,
                )
                row = per_doc[q["doc"]]
                row[0] += 1
                row[1] += rank == 0
                row[2] += rank is not None
            for quote in (*service.ask(q["question"]).quotes, *ranked):
                checked += 1
                not_verbatim += texts[quote.source][quote.start : quote.end] != quote.text
                with_boilerplate += any(
                    norm(s) in norm(quote.text) for s in boiler.get(quote.source, [])
                )
        failed |= bool(not_verbatim or with_boilerplate)
        print(folder)
        for doc, (n, h1, h3) in sorted(per_doc.items()):
            print(f"  {doc:32s} n={n:3d} hit@1={h1 / n:.3f} hit@3={h3 / n:.3f}")
        print(
            f"  quotes checked {checked}: not verbatim {not_verbatim}, "
            f"with boilerplate {with_boilerplate}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
