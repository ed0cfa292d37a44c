"""quotebot benchmarks: quality against baselines, latency, index build/update, start-up, memory.

    python bench/run.py [--quick] [--only quality,latency,build,startup]
                        [--knowledge DIR --questions FILE.jsonl]

Prints tables and writes bench/results/<timestamp>.json (and latest.json). See docs/bench.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (
    None,
    "",
):  # `python bench/run.py`: make `bench` and this worktree's `bot` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import RESULTS, ROOT, QuestionSet, formats_set, question_sets

SECTIONS = ("quality", "latency", "build", "startup")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer questions and repeats")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    parser.add_argument(
        "--knowledge", type=Path, help="an extra folder to score (with --questions)"
    )
    parser.add_argument("--questions", type=Path, help="its question set (JSONL)")
    parser.add_argument("--output", type=Path, help="JSON file (default: bench/results/...)")
    parser.add_argument("--render", type=Path, help="print the tables of an earlier JSON and exit")
    args = parser.parse_args(argv)
    if args.render is not None:
        print(render(json.loads(args.render.read_text())))
        return 0
    if (args.knowledge is None) != (args.questions is None):
        parser.error("--knowledge and --questions go together")
    sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; choose from {', '.join(SECTIONS)}")

    started = time.perf_counter()
    results: dict[str, Any] = {
        "environment": environment(),
        "mode": "quick" if args.quick else "full",
    }
    from bench.common import real_embedder
    from bench.synth import load_base

    embedder = real_embedder()
    base = load_base(embedder)
    if "quality" in sections:
        results["quality"] = quality(args, embedder)
    if "latency" in sections:
        from bench.scale import default_dtype, run_sizes

        held = default_dtype()  # as a user's quotebot holds vectors; the other one as contrast
        other = "float32" if held == "float16" else "float16"

        _say("latency and memory, one subprocess per knowledge size")
        results["latency"] = run_sizes(
            base,
            questions=40 if args.quick else 112,
            variants=(
                {10_000: [(held, 0)], 100_000: [(other, None)]}
                if args.quick
                else {10_000: [(held, 0)], 100_000: [(held, 0), (other, None)]}
            ),
            repeats=2,
            floor="5x8" if args.quick else "8x8",
        )
    if "build" in sections:
        from bench.build import embed_rate, folder_scaling

        _say("index build and update")
        results["build"] = {
            "embed_from_scratch": embed_rate(base, embedder, 64 if args.quick else 320),
            "folder_scaling": folder_scaling(
                base, embedder, [1000] if args.quick else [10, 100, 1000]
            ),
        }
    if "startup" in sections:
        from bench.startup import measure

        _say("start-up (fresh processes)")
        results["startup"] = measure(1 if args.quick else 3)
    results["environment"]["load_average_end"] = os.getloadavg()
    results["seconds"] = round(time.perf_counter() - started, 1)
    print(render(results))
    write(results, args.output)
    return 0


def quality(args: argparse.Namespace, embedder: Any) -> dict[str, Any]:
    from bench.quality import formats_supported, run_set

    sets = question_sets()
    if args.knowledge is not None:
        sets.append(QuestionSet(args.knowledge.name, args.knowledge, args.questions))
    notes = []
    formats = formats_set()
    if formats is not None:
        if formats_supported():
            sets.append(formats)
        else:
            notes.append(
                "formats set skipped: .html/.pdf are not supported by bot.ingest.documents yet"
            )
    rows = []
    for qset in sets:
        _say(f"quality: {qset.name}")
        rows.extend(run_set(qset, embedder))
    return {"rows": rows, "notes": notes}


def environment() -> dict[str, Any]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "load_average_start": os.getloadavg(),
    }


def render(results: dict[str, Any]) -> str:
    out: list[str] = []
    env = results["environment"]
    out.append(
        f"quotebot benchmarks ({results['mode']}) at {env['commit']} on {env['cpus']} CPUs; "
        f"load average {env['load_average_start'][0]:.1f} -> {env['load_average_end'][0]:.1f}; "
        f"{results['seconds']:.0f} s"
    )
    if "quality" in results:
        out.append("\nQUALITY (bot.evaluation.questions over the same folder and questions)")
        out.append(
            _table(
                [
                    "set",
                    "system",
                    "hit@1",
                    "hit@3",
                    "MRR@10",
                    "off-topic declined",
                    "wrongly declined",
                    "quote chars",
                ],
                [
                    [
                        r["set"],
                        r["system"],
                        f"{r['hit_at_1']:.3f}",
                        f"{r['hit_at_3']:.3f}",
                        f"{r['mrr_at_10']:.3f}",
                        f"{r['off_topic_declined']:.2f} of {r['off_topic']}"
                        if r["off_topic"]
                        else "-",
                        f"{r['wrongly_declined']:.3f}",
                        f"{r['mean_quote_chars']:.0f}",
                    ]
                    for r in results["quality"]["rows"]
                ],
            )
        )
        out.extend(f"note: {n}" for n in results["quality"]["notes"])
    if "latency" in results:
        from bench.scale import variant_label

        out.append("\nLATENCY per question over a warm service, ms (p50 / p95 / max), and MEMORY")
        rows = []
        for r in results["latency"]:
            rows.append(
                [
                    variant_label(r),
                    _pmm(r["embed"]),
                    _pmm(r["search"]),
                    _pmm(r["compose"]),
                    _pmm(r["total"]),
                    f"{r['index_load_s']:.2f}",
                    f"{r['keyword_index_build_s']:.2f}",
                    f"{r['index_mb']:.0f}",
                    f"{r['peak_rss_mb']:.0f}",
                ]
            )
        out.append(
            _table(
                [
                    "size",
                    "embed",
                    "search",
                    "compose",
                    "total",
                    "load s",
                    "bm25 s",
                    "index MB",
                    "peak RSS MB",
                ],
                rows,
            )
        )
        out.append("same, fastest of the repeats of each question (contention filtered), ms")
        best_rows = [
            [
                variant_label(r),
                *(_pmm(r["best_of_repeats"][k]) for k in ("embed", "search", "compose", "total")),
                f"{r['cpu_ms']['p50']:.1f}",
                f"{r['load_average'][0]:.1f}",
            ]
            for r in results["latency"]
        ]
        header = ["size", "embed", "search", "compose", "total", "CPU ms/answer p50", "load avg"]
        out.append(_table(header, best_rows))
        out.append("floor: fastest of many runs of a few questions (idle-machine estimate), ms")
        floor_rows = [
            [
                variant_label(r),
                *(_pmm(r["floor"][k]) for k in ("embed", "search", "compose", "total")),
                f"{r['floor_questions']} x {r['floor_repeats']}",
            ]
            for r in results["latency"]
        ]
        header = ["size", "embed", "search", "compose", "total", "questions x runs"]
        out.append(_table(header, floor_rows))
    if "build" in results:
        b = results["build"]
        e = b["embed_from_scratch"]
        out.append("\nINDEX BUILD AND UPDATE")
        out.append(
            f"embedding from scratch (real model, {e['sample_chunks']} chunks of ~"
            f"{e['mean_chunk_chars']} chars): {e['seconds_per_1000_chunks']:.1f} s per 1,000 "
            f"chunks ({e['chunks_per_second']:.1f}/s)"
        )
        out.append(
            _table(
                [
                    "docs",
                    "chunks",
                    "unchanged cold s",
                    "unchanged warm s",
                    "hash only s",
                    "1 changed (fake) s",
                    "1 changed (real) s",
                    "`quotebot index` s",
                ],
                [
                    [
                        str(r["documents"]),
                        str(r["chunks"]),
                        f"{r['unchanged_check_cold_s']:.3f}",
                        f"{r['unchanged_check_warm_s']:.3f}",
                        f"{r['hash_only_s']:.3f}",
                        f"{r['one_changed_fake_embedder_s']:.3f}",
                        f"{r['one_changed_real_model_s']:.3f}",
                        f"{r['cli_index_nothing_to_do']['wall_s']:.3f}"
                        if r["cli_index_nothing_to_do"]
                        else "-",
                    ]
                    for r in b["folder_scaling"]
                ],
            )
        )
    if "startup" in results:
        s = results["startup"]
        p = s["cold_ask_phases"]
        out.append("\nSTART-UP (fresh processes, warm file cache; medians)")
        out.append(
            f"python -c pass {s['python_startup']['median_s']:.2f} s; import sentence_transformers "
            f"{s['import_sentence_transformers']['median_s']:.2f} s; load it + the model + one "
            f"encode {s['load_sentence_transformers_model']['median_s']:.2f} s"
        )
        out.append(
            f"quotebot ask: {s['cold_ask']['median_s']:.2f} s (--json "
            f"{s['cold_ask_json']['median_s']:.2f} s; torch runtime "
            f"{s['cold_ask_torch_runtime']['median_s']:.2f} s); "
            f"{s['cold_ask_over_import_sentence_transformers']:.2f} x import sentence_transformers; "
            f"target <= 1.0 s and <= 0.25 x: {'met' if s['cold_ask_meets_target'] else 'MISSED'}"
        )
        out.append(
            f"  phases: imports {p['imports_s']:.2f} s, index load {p['index_load_s']:.3f} s, "
            f"question encoder load {p['model_load_s']:.2f} s, first answer {p['first_answer_s']:.3f} s, "
            f"second answer {p['second_answer_s']:.3f} s"
        )
        r = s["repl_first_prompt"]
        t = s["repl_first_prompt_torch_runtime"]
        out.append(
            f"REPL: first prompt after {r['first_prompt_median_s']:.2f} s (torch runtime "
            f"{t['first_prompt_median_s']:.2f} s); one question and "
            f"EOF {r['one_question_and_exit_median_s']:.2f} s"
        )
        d = s["discord_start"]
        out.append(
            f"Discord start RSS: {d['onnx']['rss_mb_median']:.0f} MB (torch runtime "
            f"{d['torch']['rss_mb_median']:.0f} MB)"
        )
        for name, check in s["imports"].items():
            out.append(
                f"  {name:24} {check['wall_s']:.2f} s exit {check['exit']}: heavy "
                f"{', '.join(check['heavy']) or 'none'}; also {', '.join(check['other']) or '-'}"
            )
    return "\n".join(out)


def _pmm(s: dict[str, float]) -> str:
    return f"{s['p50']:.1f} / {s['p95']:.1f} / {s['max']:.1f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


def write(results: dict[str, Any], output: Path | None) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = output or RESULTS / f"{stamp}-{results['mode']}.json"
    text = json.dumps(results, indent=1)
    path.write_text(text)
    (RESULTS / "latest.json").write_text(text)
    _say(f"wrote {path}")


def _say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
