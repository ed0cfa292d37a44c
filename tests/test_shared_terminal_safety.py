"""The terminal sanitiser: unit and property tests, then hostile documents through the command
line as a user runs it (the fake model, via tests/index_entry.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from bot.shared.terminal_safety import (
    ESCAPE_STYLE,
    LAYOUT,
    InertFormatter,
    inert,
    inert_text,
    json_line,
    segments,
)
from tests.conftest import ROOT

BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
C0 = [chr(code) for code in range(0x20)]
C1 = [chr(code) for code in range(0x80, 0xA0)]
CONTROLS = [*C0, "\x7f", *C1]


def obeyed(text: str, layout: str = "") -> list[str]:
    """The characters of `text` a terminal would act on (or cannot print), other than `layout`
    and the CR of a CRLF when \\n is allowed."""
    found = []
    for at, char in enumerate(text):
        if char in layout or (char == "\r" and "\n" in layout and text[at + 1 : at + 2] == "\n"):
            continue
        if unicodedata.category(char) in ("Cc", "Cs") or char in BIDI:
            found.append(char)
    return found


@pytest.mark.parametrize("char", CONTROLS, ids=[f"U+{ord(c):04X}" for c in CONTROLS])
def test_every_c0_c1_control_and_del_is_shown_visibly(char: str) -> None:
    shown = inert(f"a{char}b")
    assert obeyed(shown) == []
    named = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
    assert shown == "a" + named.get(char, f"\\x{ord(char):02x}") + "b"


@pytest.mark.parametrize("char", list(BIDI), ids=[f"U+{ord(c):04X}" for c in BIDI])
def test_bidi_overrides_and_isolates_are_shown_visibly(char: str) -> None:
    assert inert(f"abc{char}def") == f"abc\\u{ord(char):04x}def"


def test_layout_keeps_line_breaks_tabs_and_crlf_but_not_a_lone_cr() -> None:
    text = "one\r\ntwo\tthree\rfour\n"
    assert inert(text, LAYOUT) == "one\r\ntwo\tthree\\rfour\n"
    assert inert(text) == "one\\r\\ntwo\\tthree\\rfour\\n"


def test_ordinary_text_is_returned_unchanged() -> None:
    text = "Grassroots — «organisations» 荆州 \u200e שלום \U0001f600 [bold]x[/] :smile:"
    assert inert(text, LAYOUT) is text


def test_lone_surrogates_from_undecodable_names_are_shown() -> None:
    name = b"caf\xe9.txt".decode("utf-8", "surrogateescape")
    assert inert(name) == "caf\\udce9.txt"
    inert(name).encode("utf-8")  # printable: no UnicodeEncodeError


@pytest.mark.parametrize(
    ("text", "sequence"),
    [
        ("\x1b]52;c;cm0gLXJmIH4=\x1b\\", "\\x1b]52;c;cm0gLXJmIH4=\\x1b\\"),  # OSC 52, ST
        ("\x1b]52;c;cm0=\x07", "\\x1b]52;c;cm0=\\x07"),  # OSC 52, BEL
        ("\x1b]8;;https://evil.example\x1b\\", "\\x1b]8;;https://evil.example\\x1b\\"),  # OSC 8
        ("\x1b]0;window title\x07", "\\x1b]0;window title\\x07"),
        ("\x9d52;c;eA==\x9c", "\\x9d52;c;eA==\\x9c"),  # 8-bit OSC and ST
        ("\x1b[2J", "\\x1b[2J"),  # CSI: clear the screen
        ("\x1b[38;5;196m", "\\x1b[38;5;196m"),  # SGR
        ("\x1b[?1049h", "\\x1b[?1049h"),  # alternate screen
        ("\x9b2J", "\\x9b2J"),  # 8-bit CSI
        ("\x1bP1$r\x1b\\", "\\x1bP1$r\\x1b\\"),  # DCS
        ("\x90q#0\x9c", "\\x90q#0\\x9c"),  # 8-bit DCS
        ("\x1b_payload\x1b\\", "\\x1b_payload\\x1b\\"),  # APC
        ("\x1b^private\x1b\\", "\\x1b^private\\x1b\\"),  # PM
        ("\x1bXstring\x1b\\", "\\x1bXstring\\x1b\\"),  # SOS
        ("\x1bc", "\\x1bc"),  # RIS: reset the terminal
        ("\x1b(0", "\\x1b(0"),  # line-drawing character set
    ],
)
def test_whole_escape_sequences_are_one_escaped_piece(text: str, sequence: str) -> None:
    assert list(segments(f"before {text} after", LAYOUT)) == [
        ("before ", False),
        (sequence, True),
        (" after", False),
    ]


def test_an_unterminated_control_string_is_escaped_to_the_next_escape() -> None:
    text = "a\x1b]52;c;eA== never ends\nb\x1b[1mc"
    assert list(segments(text, LAYOUT)) == [
        ("a", False),
        ("\\x1b]52;c;eA== never ends\\nb", True),  # a newline inside a sequence is not layout
        ("\\x1b[1m", True),
        ("c", False),
    ]


def test_inert_text_is_never_markup_and_marks_escapes() -> None:
    text = inert_text("[bold]x[/] :smile: \x1b[2J", "italic")
    assert text.plain == "[bold]x[/] :smile: \\x1b[2J"
    assert [(span.start, span.end, span.style) for span in text.spans] == [(19, 26, ESCAPE_STYLE)]
    console = Console(record=True, width=80, color_system=None)
    console.print(text)
    assert console.export_text() == "[bold]x[/] :smile: \\x1b[2J\n"


@given(st.text())
def test_property_inert_output_has_no_control_but_layout(text: str) -> None:
    assert obeyed(inert(text)) == []
    assert obeyed(inert(text, LAYOUT), LAYOUT) == []
    assert "".join(piece for piece, _ in segments(text, LAYOUT)) == inert(text, LAYOUT)


@given(st.text(alphabet=st.characters(exclude_categories=("Cc", "Cs"))))
def test_property_text_without_controls_is_unchanged(text: str) -> None:
    text = "".join(char for char in text if char not in BIDI)
    assert inert(text) == text


@given(st.text())
def test_property_json_line_round_trips_exactly_and_carries_nothing_raw(text: str) -> None:
    line = json_line({"text": text, "list": [text]})
    assert json.loads(line) == {"text": text, "list": [text]}
    assert obeyed(line) == [] and "\n" not in line


def test_log_lines_are_inert_and_tracebacks_keep_their_lines() -> None:
    import logging

    try:
        raise ValueError("bad \x1b]52;c;eA==\x07 name")
    except ValueError:
        record = logging.getLogger("t").makeRecord(
            "t", logging.WARNING, "f.py", 1, "skipping %s\nforged line", ("x\x1b[2J.pdf",), None
        )
        record.exc_info = sys.exc_info()
    line = InertFormatter("%(levelname)s %(message)s").format(record)
    first, *trace = line.splitlines()
    assert first == "WARNING skipping x\\x1b[2J.pdf\\nforged line"
    assert trace[0] == "Traceback (most recent call last):" and obeyed(line, "\n") == []
    assert trace[-1] == "ValueError: bad \\x1b]52;c;eA==\\x07 name"
    assert record.getMessage() == "skipping x\x1b[2J.pdf\nforged line"  # the record is untouched


# Through the command line ------------------------------------------------------------------------

HOSTILE = (
    "The clipboard secret is here \x1b]52;c;cm0gLXJmIH4=\x1b\\ and the screen \x1b[2J clears.\n"
    "Visit \x1b]8;;https://evil.example\x1b\\the link\x1b]8;;\x1b\\ now. \x1b[31mRed\x1b[0m "
    "text, \u202eSpoofed\u202c name, \x9b2J eight-bit CSI, \x1bP1$r\x1b\\ a DCS.\n"
)
HOSTILE_NAME = "hostile\x1b]0;pwned\x07.txt"
BROKEN_NAME = "broken\x1b[2J.pdf"


def fake_quotebot(
    *args: str, cwd: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`quotebot ARGS` with the fake model, stdout and stderr captured (not a terminal)."""
    return subprocess.run(
        [sys.executable, "-m", "tests.index_entry", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env=_environment(),
        timeout=120,
    )


def _environment() -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("QUOTEBOT_")}
    # wide enough that rich never folds a line inside an escape sequence
    return {**environment, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "COLUMNS": "400"}


@pytest.fixture
def hostile(tmp_path: Path) -> tuple[str, ...]:
    """A knowledge folder with escape sequences in a document and its name, rich markup in a
    file name and a title, and an unreadable file whose name clears the screen."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / HOSTILE_NAME).write_text(HOSTILE, encoding="utf-8")
    (folder / "[draft] report.txt").write_text("The quarterly budget rose by ten percent.\n")
    (folder / "notes.md").write_text("---\ntitle: Budget [/] notes\n---\nThe budget is tight.\n")
    (folder / BROKEN_NAME).write_bytes(b"not a pdf at all")
    return ("--knowledge", str(folder), "--index-dir", str(tmp_path / "idx"))


@pytest.mark.subprocess
def test_ask_on_a_terminal_shows_sequences_and_json_keeps_them(
    tmp_path: Path, hostile: tuple[str, ...]
) -> None:
    question = "clipboard secret screen link spoofed"
    shown = fake_quotebot(*hostile, "ask", question, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert obeyed(shown.stdout, "\n") == [] and obeyed(shown.stderr, "\n") == []
    assert "hostile\\x1b]0;pwned\\x07.txt" in shown.stdout  # the source line
    assert "here \\x1b]52;c;cm0gLXJmIH4=\\x1b\\ and the screen \\x1b[2J clears." in shown.stdout
    assert "\\u202eSpoofed\\u202c" in shown.stdout and "\\x9b2J" in shown.stdout
    assert "broken\\x1b[2J.pdf" in shown.stderr  # the skipped file's warning

    as_json = fake_quotebot(*hostile, "ask", question, "--json", cwd=tmp_path)
    assert as_json.returncode == 0 and obeyed(as_json.stdout, "\n") == []
    quote = json.loads(as_json.stdout)["quotes"][0]
    assert quote["source"] == HOSTILE_NAME
    assert HOSTILE[quote["start"] : quote["end"]] == quote["text"]
    assert "\x1b]52;c;" in quote["text"] and "\u202e" in quote["text"]


@pytest.mark.subprocess
def test_sources_lists_markup_and_escapes_as_text(tmp_path: Path, hostile: tuple[str, ...]) -> None:
    listed = fake_quotebot(*hostile, "sources", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert obeyed(listed.stdout, "\n") == [] and "MarkupError" not in listed.stderr
    assert "[draft] report.txt" in listed.stdout and "Budget [/] notes" in listed.stdout
    assert "hostile\\x1b]0;pwned\\x07.txt" in listed.stdout
    rows = json.loads(fake_quotebot(*hostile, "sources", "--json", cwd=tmp_path).stdout)
    assert {row["source"] for row in rows} == {HOSTILE_NAME, "[draft] report.txt", "notes.md"}


@pytest.mark.subprocess
def test_text_is_exact_through_a_pipe_and_inert_on_a_terminal(
    tmp_path: Path, hostile: tuple[str, ...]
) -> None:
    piped = fake_quotebot(*hostile, "text", HOSTILE_NAME, cwd=tmp_path)
    assert piped.returncode == 0 and piped.stdout == HOSTILE
    status, shown = _on_a_terminal(*hostile, "text", HOSTILE_NAME, cwd=tmp_path)
    assert status == 0 and shown == inert(HOSTILE, LAYOUT)
    assert obeyed(shown, LAYOUT) == [] and "\\x1b]52;c;cm0gLXJmIH4=\\x1b\\" in shown


def _on_a_terminal(*args: str, cwd: Path) -> tuple[int, str]:
    """Run with standard output on a pseudo-terminal (output processing off, so the bytes read
    are the bytes written); returns the exit status and what the terminal received."""
    import pty
    import termios

    leader, follower = pty.openpty()
    attributes = termios.tcgetattr(follower)
    attributes[1] &= ~termios.OPOST
    termios.tcsetattr(follower, termios.TCSANOW, attributes)
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.index_entry", *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=subprocess.DEVNULL,
        env=_environment(),
    )
    os.close(follower)
    received = bytearray()
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        received += data
    os.close(leader)
    return process.wait(timeout=120), received.decode("utf-8")


@pytest.mark.subprocess
def test_errors_warnings_and_eval_tables_are_inert(
    tmp_path: Path, hostile: tuple[str, ...]
) -> None:
    missing = fake_quotebot("--knowledge", "gone\x1b]52;c;eA==\x07", "index", cwd=tmp_path)
    assert missing.returncode == 2 and obeyed(missing.stderr, "\n") == []
    assert "gone\\x1b]52;c;eA==\\x07" in missing.stderr

    questions = tmp_path / "q [bold] \x1b[2J.jsonl"
    questions.write_text('{"question": "How did the budget change?", "answers": ["ten"]}\n')
    table = fake_quotebot(*hostile, "eval", str(questions), cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert obeyed(table.stdout, "\n") == [] and "q [bold] \\x1b[2J.jsonl" in table.stdout


@pytest.mark.subprocess
def test_watch_warnings_about_new_files_are_inert(tmp_path: Path) -> None:
    """`index --watch`: the watcher's warning about a file added later (logged, not printed)."""
    import signal

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("A lighthouse stands on the northern cape.\n")
    command = ["-m", "tests.index_entry", "--knowledge", str(folder), "index", "--json", "--watch"]
    child = subprocess.Popen(
        [sys.executable, *command],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_environment(),
    )
    try:
        assert child.stdout is not None and child.stderr is not None
        assert json.loads(child.stdout.readline())["added"] == ["a.txt"]
        (folder / BROKEN_NAME).write_bytes(b"not a pdf at all")
        (folder / "b.txt").write_text("The harbour has two piers.\n")
        assert json.loads(child.stdout.readline())["added"] == ["b.txt"]
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=15) == 0
        errors = child.stderr.read()
    finally:
        if child.poll() is None:
            child.kill()
        child.communicate(timeout=15)  # reaps it and closes its pipes
    assert "skipping broken\\x1b[2J.pdf" in errors and obeyed(errors, "\n") == []
