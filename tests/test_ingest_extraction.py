"""Extraction per format on small files built here, and the bad files of issue 8."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bot.ingest.extraction import (
    EXTRACTOR_VERSION,
    Extracted,
    ExtractionFailed,
    detect_format,
    extract,
    extract_in_process,
)
from bot.ingest.extraction.base import section_spans
from bot.ingest.extraction.markdown import extract_markdown

# --------------------------------------------------------------------------------------- HTML

NEWS_PAGE = """<!DOCTYPE html>
<html><head>
<meta charset="utf-8">
<title>Rivers rise after storm - Valley Gazette</title>
<meta property="og:site_name" content="Valley Gazette">
<meta property="og:url" content="https://gazette.example/2021/rivers-rise">
<meta property="article:published_time" content="2021-03-04T08:15:00+00:00">
<link rel="canonical" href="https://gazette.example/2021/rivers-rise">
<script>var tracking = "Subscribe now to the Gazette";</script>
</head><body>
<div id="cookie-banner">We use cookies to improve your experience. Accept all cookies</div>
<nav><ul><li><a href="/">Home</a></li><li><a href="/sport">Sport Section</a></li>
<li><a href="/weather">Weather Section</a></li></ul></nav>
<aside class="sidebar"><h3>Most Read</h3><ul><li><a href="/a">Mayor opens new bakery</a></li>
<li><a href="/b">School wins chess trophy</a></li></ul></aside>
<article>
<div class="dateline">08:15, March 4, 2021</div>
<h1>Rivers rise after storm</h1>
<p>The river Wend rose by two metres overnight after the storm, the highest level since records
began in 1911. Residents of the lower town were asked to move their cars to higher ground.</p>
<p>Engineers from the county council inspected the old stone bridge at dawn and found cracks in
two of its arches.[3] The bridge will stay closed until at least Friday.[citation needed]</p>
<h2>Help for residents[edit]</h2>
<p>A rest centre has opened in the Corn Exchange, where volunteers are serving hot meals and
lending blankets to anyone who has had to leave home.</p>
<div class="byline">By Jane Marsh</div>
<div class="share">Share on Facebook | Share on Twitter | Email this story</div>
</article>
<div class="related"><h3>Related News</h3><ul><li><a href="/c">Storm closes coastal road</a></li>
<li><a href="/d">Flood defences approved last year</a></li></ul></div>
<footer><p>Copyright © 2021 Valley Gazette Ltd. All rights reserved.</p>
<p><a href="/privacy">Privacy policy</a> | <a href="/about">About us</a></p></footer>
</body></html>
"""
NEWS_BOILERPLATE = [
    "cookies",
    "Sport Section",
    "Mayor opens new bakery",
    "Storm closes coastal road",
    "Share on Facebook",
    "Copyright",
    "Privacy policy",
    "Subscribe now",
    "[3]",
    "[edit]",
    "[citation needed]",
]


def _paragraphs(text: str) -> list[str]:
    return [p for p in text.split("\n\n") if p.strip()]


def test_html_main_text_without_boilerplate() -> None:
    result = extract_in_process("html", NEWS_PAGE.encode())
    assert result.format == "html"
    assert "The river Wend rose by two metres overnight" in result.text
    assert "The bridge will stay closed until at least Friday." in result.text
    assert "hot meals" in result.text
    for string in NEWS_BOILERPLATE:
        assert string.casefold() not in result.text.casefold(), string


def test_html_metadata() -> None:
    result = extract_in_process("html", NEWS_PAGE.encode())
    assert result.title == "Rivers rise after storm"
    assert result.date == "2021-03-04"
    assert result.url == "https://gazette.example/2021/rivers-rise"


def test_html_dateline_and_byline_are_a_closing_paragraph_of_verbatim_lines() -> None:
    result = extract_in_process("html", NEWS_PAGE.encode())
    paragraphs = _paragraphs(result.text)
    assert paragraphs[0].startswith("Rivers rise after storm")  # trafilatura keeps the h1
    lines = paragraphs[-1].splitlines()
    assert lines == ["08:15, March 4, 2021", "Rivers rise after storm", "By Jane Marsh"]
    for line in lines:
        assert line in NEWS_PAGE


def test_html_paragraphs_are_blank_line_separated_and_sections_named() -> None:
    result = extract_in_process("html", NEWS_PAGE.encode())
    paragraphs = _paragraphs(result.text)
    assert len(paragraphs) >= 4
    assert all(len(p) < 400 for p in paragraphs)
    offset = result.text.index("A rest centre")
    assert result.section_at(offset) == "Help for residents"
    assert result.section_at(0) is None


def test_wikipedia_style_references_and_see_also_are_dropped() -> None:
    page = (
        "<html><head><title>Widgets - Wikipedia</title></head><body><main><h1>Widgets</h1>"
        + "<p>A widget is a small gadget used in many machines to hold parts together.[1]</p>" * 3
        + "<h2>History[edit]</h2><p>Widgets were first made in 1850 by a clockmaker in Leeds, "
        "who needed a way to fix gears to their spindles.[2][3]</p>"
        "<h2>See also[edit]</h2><ul><li>Gadget</li><li>Gizmo</li></ul>"
        "<h2>References[edit]</h2><ol><li>^ Smith, J. (1990). Widgets. Leeds Press.</li>"
        "<li>^ Jones, K. (2001). Small Parts. Hull.</li></ol></main></body></html>"
    )
    result = extract_in_process("html", page.encode())
    assert "[1]" not in result.text and "[edit]" not in result.text
    assert "Smith, J." not in result.text and "Gizmo" not in result.text
    assert "to fix gears to their spindles." in result.text


def test_html_without_main_text_fails() -> None:
    page = b"<html><head><title>Login</title></head><body><nav><a href='/'>Home</a></nav></body>"
    with pytest.raises(ExtractionFailed, match="no main text"):
        extract_in_process("html", page)


@pytest.mark.subprocess
def test_huge_html_fails_fast_with_reason() -> None:
    paragraph = b"<p>" + b"word " * 200 + b"</p>\n"
    data = b"<html><body>" + paragraph * (50_000_000 // len(paragraph)) + b"</body></html>"
    assert len(data) > 49_000_000
    with pytest.raises(ExtractionFailed, match="too large"):
        extract(Path("huge.html"), data, time_limit_s=30)


def test_inline_images_do_not_count_towards_the_size_limit() -> None:
    image = b'<img src="data:image/png;base64,' + b"A" * 20_000_000 + b'">'
    data = NEWS_PAGE.encode().replace(b"<article>", b"<article>" + image)
    result = extract_in_process("html", data)
    assert "The river Wend" in result.text


# ---------------------------------------------------------------------------------------- PDF

_TOPICS = [
    "the intake screens",
    "the overflow channel",
    "the diesel generator",
    "the floodgates",
    "the embankment",
    "the control room",
    "the alarm system",
    "the spare pumps",
]
_BODY = (
    "Section {n} explains how {topic} keeps the lower town dry. When the river rises, "
    "{k} electric pumps move water through the embankment into the overflow channel, and a "
    "diesel generator takes over if the mains supply fails during a storm. Inspectors visit "
    "every quarter to test the floodgates and to clear debris from {topic}."
)


def _body(n: int) -> str:
    return _BODY.format(n=n, topic=_TOPICS[n % len(_TOPICS)], k=n % 5 + 2)


def _report_pdf(pages: int, columns: int = 1, hyphenate: bool = True) -> bytes:
    """A report with a running header, a footer with page numbers, and hyphenated line ends."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_title("Pumping Station Handbook")
    pdf.set_creation_date(__import__("datetime").datetime(2022, 5, 17))
    width = 190 / columns - (5 if columns > 1 else 0)
    for page in range(1, pages + 1):
        pdf.add_page()
        pdf.set_font("helvetica", size=8)
        pdf.set_xy(10, 8)
        pdf.cell(0, 5, "Pumping Station Handbook - Internal")
        pdf.set_xy(10, 285)
        pdf.cell(0, 5, f"Page {page} of {pages}")
        pdf.set_font("helvetica", size=11)
        for column in range(columns):
            y = 20.0
            for n in range(2):
                number = (page - 1) * columns * 2 + column * 2 + n + 1
                lines = _wrap(_body(number), 70 // columns, hyphenate)
                for i, line in enumerate(lines):
                    indent = 5 if i == 0 else 0
                    pdf.set_xy(10 + column * (width + 10) + indent, y)
                    pdf.cell(width, 5.5, line)
                    y += 5.5
                y += 4
    return bytes(pdf.output())


def _wrap(text: str, width: int, hyphenate: bool) -> list[str]:
    """Greedy wrap that hyphenates long words at the line end (as a typesetter would)."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if len(candidate) <= width:
            line = candidate
            continue
        room = width - len(line) - 2
        if hyphenate and len(word) >= 8 and room >= 3 and word.isalpha():
            lines.append(f"{line} {word[:room]}-")
            line = word[room:]
        else:
            lines.append(line)
            line = word
    lines.append(line)
    return lines


@pytest.fixture(scope="module")
def report_pdf() -> bytes:
    return _report_pdf(pages=3)


def test_pdf_headers_footers_removed_and_pages_kept(report_pdf: bytes) -> None:
    result = extract_in_process("pdf", report_pdf)
    assert result.format == "pdf"
    assert "Internal" not in result.text
    assert "Page 1 of 3" not in result.text and "of 3" not in result.text
    assert [p[2] for p in result.pages] == [1, 2, 3]
    starts = [p[0] for p in result.pages]
    assert starts[0] == 0 and starts == sorted(starts)
    assert result.pages[-1][1] == len(result.text)
    page_of_section_5 = result.page_at(result.text.index("Section 5 "))
    assert page_of_section_5 == 3
    assert result.title == "Pumping Station Handbook"
    assert result.date == "2022-05-17"


def test_pdf_hyphenation_undone_and_paragraphs_rebuilt(report_pdf: bytes) -> None:
    result = extract_in_process("pdf", report_pdf)
    paragraphs = _paragraphs(result.text)
    assert len(paragraphs) == 6
    for n, paragraph in enumerate(paragraphs, start=1):
        assert paragraph == _body(n)


def test_pdf_two_columns_are_not_interleaved() -> None:
    result = extract_in_process("pdf", _report_pdf(pages=2, columns=2))
    paragraphs = _paragraphs(result.text)
    assert paragraphs == [_body(n) for n in range(1, 9)]


def test_pdf_ligatures_mapped_one_by_one() -> None:
    from bot.ingest.extraction.pdf import _LIGATURES

    assert "ﬁnal ﬂoor oﬃce – café №5".translate(_LIGATURES) == "final floor office – café №5"


def test_pdf_without_text_layer_fails() -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 60, style="F")  # a "scanned" page: graphics only, no text
    with pytest.raises(ExtractionFailed, match="no text layer"):
        extract_in_process("pdf", bytes(pdf.output()))


def test_encrypted_pdf_fails_with_reason(report_pdf: bytes) -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(report_pdf)).pages:
        writer.add_page(page)
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    with pytest.raises(ExtractionFailed, match="encrypted"):
        extract_in_process("pdf", buffer.getvalue())


@pytest.mark.parametrize("cut", [0.5, 0.1])
@pytest.mark.subprocess
def test_truncated_pdf_fails_or_extracts(report_pdf: bytes, cut: float) -> None:
    data = report_pdf[: int(len(report_pdf) * cut)]
    try:
        result = extract(Path("cut.pdf"), data, time_limit_s=20)
    except ExtractionFailed as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert result.text.strip()


@pytest.mark.subprocess
def test_garbage_pdf_fails() -> None:
    with pytest.raises(ExtractionFailed):
        extract(Path("junk.pdf"), b"%PDF-1.7\n" + bytes(range(256)) * 40, time_limit_s=20)


@pytest.mark.subprocess
def test_500_page_pdf_is_extracted_within_the_limit() -> None:
    data = _report_pdf(pages=500)
    result = extract(Path("big.pdf"), data, time_limit_s=60)
    assert len(result.pages) == 500
    assert "Page 250 of 500" not in result.text


@pytest.mark.subprocess
def test_time_limit_stops_extraction() -> None:
    data = _report_pdf(pages=60)
    with pytest.raises(ExtractionFailed, match="longer than"):
        extract(Path("slow.pdf"), data, time_limit_s=0.05)


@pytest.mark.subprocess
def test_memory_limit_is_enforced(report_pdf: bytes) -> None:
    with pytest.raises(ExtractionFailed):
        extract(Path("tight.pdf"), report_pdf, memory_limit_mb=20)


# ----------------------------------------------------------------------------------- Markdown

NOTES = """---
title: "Home lab notes"
date: 2023-09-01
url: https://notes.example/lab
tags: [lab, setup]
---
# Home lab

Everything about the lab.

## Setup

General steps.

### Linux

Install the packages with apt.

```sh
# not a heading
apt install foo
```

### Windows

Use the installer.

Troubleshooting
---------------

Restart it.
"""


def test_markdown_front_matter_and_section_paths() -> None:
    result = extract_markdown(NOTES)
    assert result.format == "markdown"
    assert result.title == "Home lab notes"
    assert result.date == "2023-09-01"
    assert result.url == "https://notes.example/lab"
    assert result.text.startswith("# Home lab")
    text = result.text
    assert result.section_at(text.index("apt install foo")) == "Setup › Linux"
    assert result.section_at(text.index("Use the installer")) == "Setup › Windows"
    assert result.section_at(text.index("Restart it")) == "Troubleshooting"
    assert result.section_at(text.index("Everything about")) is None


def test_markdown_without_front_matter_is_unchanged() -> None:
    text = "# Title\n\nBody --- with dashes.\n"
    result = extract_markdown(text)
    assert result.text == text
    assert result.title == "Title"


def test_section_spans_nest_and_do_not_overlap() -> None:
    spans = section_spans([(0, 1, "Doc"), (10, 2, "A"), (20, 3, "B"), (30, 2, "C")], 40)
    assert spans == ((10, 20, "A"), (20, 30, "A › B"), (30, 40, "C"))


# --------------------------------------------------------------------- plain text and dispatch


def test_text_with_sidecar_metadata(tmp_path: Path) -> None:
    path = tmp_path / "minutes.txt"
    path.write_text("The committee met on Tuesday.\n")
    (tmp_path / "minutes.meta.toml").write_text(
        'title = "Committee minutes"\ndate = 2024-02-06\nurl = "https://example.org/m"\n'
        'author = "The clerk"\n'
    )
    result = extract(path, path.read_bytes())
    assert result == Extracted(
        text="The committee met on Tuesday.\n",
        format="text",
        title="Committee minutes",
        date="2024-02-06",
        url="https://example.org/m",
        author="The clerk",
        encoding="utf-8",
    )


def test_broken_sidecar_is_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("text")
    (tmp_path / "a.txt.meta.toml").write_text("title = ")
    with pytest.raises(ExtractionFailed, match=r"a\.txt\.meta\.toml"):
        extract(path, path.read_bytes())


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("page.html", b"%PDF-1.4 ...", "pdf"),
        ("doc.pdf", b"<!DOCTYPE html><html><body>x</body></html>", "html"),
        ("notes.txt", b"<html><body><p>x</p></body></html>", "html"),
        ("notes.txt", b"plain words", "text"),
        ("notes.md", b"# heading", "markdown"),
        ("PAGE.HTM", b"<p>fragment</p>", "html"),
    ],
)
def test_detect_format_by_content_then_suffix(name: str, data: bytes, expected: str) -> None:
    assert detect_format(Path(name), data) == expected


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("photo.pdf", b"\x89PNG\r\n\x1a\n....", "PNG image"),
        ("report.pdf", b"just some words", "not a PDF"),
        ("book.html", b"PK\x03\x04....", "ZIP archive"),
        ("data.csv", b"a,b\n1,2\n", "unsupported file type"),
    ],
)
def test_wrong_content_is_a_clear_reason(name: str, data: bytes, reason: str) -> None:
    with pytest.raises(ExtractionFailed, match=reason):
        extract(Path(name), data)


@pytest.mark.subprocess
def test_pdf_with_html_extension_is_read_as_pdf(report_pdf: bytes) -> None:
    result = extract(Path("saved.html"), report_pdf)
    assert result.format == "pdf" and len(result.pages) == 3


@pytest.mark.parametrize(
    ("data", "reason"),
    [(bytes(range(128, 256)) * 8 + b"\x7f", "UTF-8"), (b"  \n", "empty"), (b"a\x00b", "NUL")],
)
def test_unreadable_text(data: bytes, reason: str) -> None:
    with pytest.raises(ExtractionFailed, match=reason):
        extract(Path("x.txt"), data)


@pytest.mark.subprocess
def test_sandboxed_and_in_process_results_agree(report_pdf: bytes) -> None:
    assert extract(Path("r.pdf"), report_pdf) == extract_in_process("pdf", report_pdf)
    page = NEWS_PAGE.encode()
    assert extract(Path("n.html"), page) == extract_in_process("html", page)


def test_extractor_version_is_recorded_text() -> None:
    assert isinstance(EXTRACTOR_VERSION, str) and EXTRACTOR_VERSION
