"""Answers as Discord message content: within Discord's limits, inert as markdown, unable to ping.

Quoted passages are untrusted text (anyone who can put a file in the knowledge folder controls
them), so everything that comes from a document, a file name or a user goes through
`discord_text` before it is sent. The client also sends `allowed_mentions` with `parse: []`;
escaping is the second layer. One answer is always one message of at most CONTENT_BUDGET width,
never a flood of messages: long quotes are shortened around their highlight instead.

Pure functions over the core's data; no discord import, so this module is cheap to test.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from bot.answering.compose import Answer, Quote
from bot.discord.text import render_passage, shorten, visible_chars, width
from bot.index.generation import DocumentRecord
from bot.index.report import UpdateReport
from bot.shared.wording import plural

CONTENT_LIMIT = 2000  # Discord rejects longer message content with HTTP 400 (code 50035)
CONTENT_BUDGET = 1900  # what we allow ourselves: a margin under the hard limit
MAX_QUOTES = 3
QUESTION_BUDGET = 300
CONTEXT_BUDGET = 200

BUSY = "I am answering a lot of questions right now; please ask again in a minute."
NOT_HERE = "I am not enabled in this channel."
FAILED = "Sorry, something went wrong while answering; the error was logged."
RELATED_HEADING = "**Related passages** (not an answer):"
STALE_MARK = " · ⚠️ **changed since this answer**"
STALE_NOTICE = (
    "-# ⚠️ The documents changed since this answer: a marked quote no longer reads like this. "
    "**Refresh** answers again from the current documents."
)
HINT = "Ask me a question after the mention, for example: @quotebot what is …? (or use /ask)"


def source_line(quote: Quote) -> str:
    """Where a quote comes from: `— article.txt ¶5`, or for a source with a title
    `— [People's Daily Online — "Grassroots…"](<url#:~:text=…>), 10 Aug 2010, ¶5`, the title
    linking to the page opened at the highlighted sentence (see bot.answering.citation.safe_link)."""
    if not quote.title:
        return f"— {shorten(' '.join(quote.source.split()), 150)} ¶{quote.paragraph}"
    from bot.answering.citation import citation_details, citation_lead, safe_link

    label = shorten(citation_lead(quote), 150).replace("]", "\\]")  # "]" would end the label
    at = quote.highlight or (quote.start, quote.end)
    link = safe_link(quote.url, quote.text[at[0] - quote.start : at[1] - quote.start])
    head = f"[{label}](<{link}>)" if link else label
    details = [shorten(part, 100) for part in citation_details(quote)]
    return "— " + ", ".join([head, *details])


def render_answer(
    answer: Answer,
    *,
    show_question: bool = False,
    budget: int = CONTENT_BUDGET,
    stale: Collection[int] = (),
) -> str:
    """The whole reply to a question: one message of at most `budget` width (UTF-16 units).

    Up to three quotes as block quotes, the answering sentence in bold, each followed by its
    source (marked when its position is in `stale`: an update changed or removed that passage
    since, see bot.answering.stale); a declined question gets the service's message instead, followed by the nearest
    passages under a "Related passages" heading when the service offers them.
    """
    head: list[str] = []
    if show_question:
        head.append("**Question:** " + shorten(answer.question, QUESTION_BUDGET))
    if answer.context:
        head.append(context_line(answer.context))
    if answer.declined or not answer.quotes:
        text = answer.message or "I could not find that in my documents."
        if answer.related:
            # The nearest passages, clearly not the answer; what does not fit is left out.
            head = [*head, shorten(text, 500), RELATED_HEADING]
            return _with_quotes(head, list(answer.related[:MAX_QUOTES]), budget)
        used = sum(width(part) + 1 for part in head)
        return "\n".join([*head, shorten(text, max(1, budget - used))])
    if answer.message:
        head.append("-# " + shorten(answer.message, 300))
    if stale:
        head.append(STALE_NOTICE)
    return _with_quotes(head, list(answer.quotes[:MAX_QUOTES]), budget, stale)


def _with_quotes(
    head: list[str], quotes: list[Quote], budget: int, stale: Collection[int] = ()
) -> str:
    """Head lines, then as many of the quotes as fit (each shortened around its highlight)."""
    while quotes:
        sources = [
            source_line(quote) + (STALE_MARK if i in stale else "")
            for i, quote in enumerate(quotes)
        ]
        # Fixed cost: head lines, source lines, and the line breaks between blocks.
        fixed = sum(width(part) + 1 for part in head) + sum(width(s) + 3 for s in sources)
        bodies = _fit(quotes, budget - fixed)
        blocks = [f"{body}\n{source}" for body, source in zip(bodies, sources, strict=True)]
        content = "\n".join([*head, "\n\n".join(blocks)])
        if width(content) <= budget:
            return content
        quotes.pop()  # only with a budget far below Discord's limit
    return shorten("\n".join(head), budget)


def context_line(context: Sequence[str]) -> str:
    """Subtext naming the earlier questions an answer drew on, so a reader sees why a short
    follow-up ("and the second?") got the answer it got."""
    return "-# ↳ following up on: " + shorten(
        " · ".join(" ".join(q.split()) for q in context), CONTEXT_BUDGET
    )


def _fit(quotes: Sequence[Quote], available: int) -> list[str]:
    """Share `available` width among the quotes: short ones take what they need, the rest split
    what is left evenly (water-filling), so one long passage cannot crowd out the others."""
    wanted = [_wanted(q, available) for q in quotes]
    share: dict[int, int] = {}
    left, remaining = available, len(quotes)
    for index in sorted(range(len(quotes)), key=lambda i: wanted[i]):
        share[index] = min(wanted[index], left // remaining)
        left -= share[index]
        remaining -= 1
    return [_render_quote(q, share[i]) for i, q in enumerate(quotes)]


def _wanted(quote: Quote, available: int) -> int:
    """Width of the whole quote rendered, or more than `available` if it surely exceeds it."""
    if visible_chars(quote.text) > available:
        return available + 1
    return width(_render_quote(quote, 10**9))


def _render_quote(quote: Quote, budget: int) -> str:
    highlight = None
    if quote.highlight is not None:
        highlight = (quote.highlight[0] - quote.start, quote.highlight[1] - quote.start)
    return render_passage(quote.text, highlight, budget)


def render_sources(records: Sequence[DocumentRecord], budget: int = CONTENT_BUDGET) -> str:
    """The indexed documents, one line each; the tail is summarised if it does not fit."""
    if not records:
        return "No documents are indexed yet."
    lines = [f"**{plural(len(records), 'indexed document')}:**"]
    used = width(lines[0])
    for index, record in enumerate(sorted(records, key=lambda r: r.source)):
        line = (
            f"- {shorten(record.source, 200)} · {_size(record.size)} · "
            f"{plural(record.chunks, 'passage')} · indexed {_when(record.indexed_at)}"
        )
        rest = len(records) - index
        if used + 1 + width(line) + width(f"\n… and {rest} more") > budget and rest > 1:
            lines.append(f"… and {rest} more")
            break
        lines.append(line)
        used += 1 + width(line)
    return "\n".join(lines)


def render_report(report: UpdateReport) -> str:
    """A re-index summary for the admin who asked for it."""
    text = "Index updated: " + report.summary() + "."
    if report.warnings:
        text += f"\n{plural(len(report.warnings), 'warning')}, e.g.: {report.warnings[0]}"
    return shorten(text, CONTENT_BUDGET)


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB"):
        if value < 1000 or unit == "MB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"  # unreachable


def _when(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return shorten(iso, 40)


def cooldown_notice(wait: float) -> str:
    return f"You are asking quickly; please try again in {max(1, round(wait))} s."
