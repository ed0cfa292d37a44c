"""What a hostile or careless knowledge folder can do, through the real command line (issue 16).

The CLI runs in a subprocess with the FakeEmbedder (`tests.index_entry`), so no model is loaded;
everything else (scanning, links, decoding, warnings, the index on disk) is what a user runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.privileges import child_without_override, require_droppable_override

pytestmark = pytest.mark.subprocess  # every test runs quotebot as a child process

SECRET = "mfa.k33p-th1s-s3cret"
LATIN1 = (
    "Le conseil municipal s'est réuni jeudi. La grève des éboueurs a duré trois semaines.\n\n"
    "Hélène, déléguée syndicale, a déclaré que les négociations reprendront à la rentrée."
)


def quotebot(
    folder: Path,
    *args: str,
    env: dict[str, str] | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("QUOTEBOT_")}
    environment.update({"PYTHONPATH": str(ROOT), **(env or {})})
    where = ("--knowledge", str(folder), "--index-dir", str(folder.parent / "idx"))
    return subprocess.run(
        [sys.executable, "-m", "tests.index_entry", *where, *args],
        cwd=folder.parent,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=environment,
        timeout=120,  # a scan that opened a FIFO would block here, not pass
        preexec_fn=preexec_fn,
    )


def warnings(result: subprocess.CompletedProcess[str]) -> list[str]:
    prefix = "quotebot: warning: "
    return [line[len(prefix) :] for line in result.stderr.splitlines() if line.startswith(prefix)]


def test_a_link_to_a_secret_is_not_quoted_unless_allowed_and_warned_once(
    tmp_path: Path, knowledge: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "bot.env").write_text(f"DISCORD_TOKEN={SECRET}\n")
    (knowledge / "token.txt").symlink_to(outside / "bot.env")
    (knowledge / "passwd.txt").symlink_to("/etc/passwd")

    first = quotebot(knowledge, "ask", "What is the Discord token?", "--json")
    assert first.returncode == 0, first.stderr
    assert SECRET not in first.stdout and "root:" not in first.stdout
    assert warnings(first) == [
        "skipping passwd.txt: a link to a file outside the knowledge folder (/etc/passwd); "
        "set [knowledge] follow_external_links = true to index it",
        f"skipping token.txt: a link to a file outside the knowledge folder "
        f"({outside / 'bot.env'}); set [knowledge] follow_external_links = true to index it",
    ]
    again = quotebot(knowledge, "ask", "What is the Discord token?", "--json")
    assert again.returncode == 0 and warnings(again) == []
    sources = json.loads(quotebot(knowledge, "sources", "--json").stdout)
    assert [s["source"] for s in sources] == ["jingzhou-grassroots-party-organizations.txt"]

    allowed = {"QUOTEBOT_KNOWLEDGE__FOLLOW_EXTERNAL_LINKS": "true"}
    listed = quotebot(knowledge, "sources", "--json", env=allowed)
    assert "token.txt" in [s["source"] for s in json.loads(listed.stdout)]
    assert quotebot(knowledge, "text", "token.txt", env=allowed).stdout == (
        f"DISCORD_TOKEN={SECRET}\n"
    )
    refused = quotebot(knowledge, "text", "token.txt")  # the setting off again: not read
    assert refused.returncode == 2 and SECRET not in refused.stdout + refused.stderr


def test_pipes_loops_and_broken_links_never_block_and_warn_once_per_change(
    knowledge: Path,
) -> None:
    os.mkfifo(knowledge / "pipe.txt")
    (knowledge / "gone.md").symlink_to("nowhere.md")
    (knowledge / "loop.txt").symlink_to("loop.txt")
    (knowledge / "alias.txt").symlink_to("jingzhou-grassroots-party-organizations.txt")
    (knowledge / "binary.txt").write_bytes(bytes(range(128, 256)) * 8)
    first = quotebot(knowledge, "index")
    assert first.returncode == 0, first.stderr
    assert warnings(first) == [
        "skipping alias.txt: a link to jingzhou-grassroots-party-organizations.txt inside the "
        "knowledge folder, which is indexed under its own name",
        "skipping gone.md: a broken link (its target nowhere.md does not exist)",
        "skipping loop.txt: a symbolic link loop",
        "skipping pipe.txt: a named pipe (FIFO), not a regular file",
        "skipping binary.txt: not valid UTF-8 (byte 0) and not text in any encoding "
        "(a binary file?)",
    ]
    for command in (("ask", "Who visited Jingzhou?"), ("sources",), ("index",)):
        quiet = quotebot(knowledge, *command)
        assert quiet.returncode == 0 and warnings(quiet) == [], quiet.stderr

    (knowledge / "binary.txt").write_bytes(bytes(range(255, 127, -1)) * 8)  # changed: warn again
    changed = quotebot(knowledge, "ask", "Who visited Jingzhou?")
    assert [w.split(":")[0] for w in warnings(changed)] == ["skipping binary.txt"]


def test_permission_denied_names_the_folder(tmp_path: Path, knowledge: Path) -> None:
    require_droppable_override()  # as root, the child drops CAP_DAC_OVERRIDE to feel the bits
    (knowledge / "private").mkdir()
    (knowledge / "private" / "notes.txt").write_text("Private notes on the budget.\n")
    (knowledge / "private").chmod(0)
    try:
        sub = quotebot(knowledge, "index", preexec_fn=child_without_override)
        knowledge.chmod(0)
        top = quotebot(knowledge, "index", preexec_fn=child_without_override)
    finally:
        knowledge.chmod(0o755)
        (knowledge / "private").chmod(0o755)
    assert sub.returncode == 0, sub.stderr
    assert warnings(sub) == ["skipping the folder private/: cannot read it (Permission denied)"]
    assert top.returncode == 2
    assert top.stderr.splitlines()[1:] == [  # after index_entry's "ready"
        f"quotebot: error: cannot read the knowledge folder {knowledge}/: permission denied"
    ]


def test_a_latin1_text_is_decoded_quoted_exactly_and_its_encoding_recorded(
    knowledge: Path,
) -> None:
    (knowledge / "conseil.txt").write_bytes(LATIN1.encode("latin-1"))
    result = quotebot(knowledge, "ask", "Combien de temps a duré la grève des éboueurs?", "--json")
    assert result.returncode == 0 and warnings(result) == [], result.stderr
    sources = {s["source"]: s for s in json.loads(quotebot(knowledge, "sources", "--json").stdout)}
    assert sources["conseil.txt"]["encoding"] == "cp1252"
    assert sources["jingzhou-grassroots-party-organizations.txt"]["encoding"] == "utf-8"
    text = quotebot(knowledge, "text", "conseil.txt").stdout
    assert text == LATIN1
    quote = json.loads(result.stdout)["quotes"][0]
    assert quote["source"] == "conseil.txt" and "grève" in quote["text"]
    assert text[quote["start"] : quote["end"]] == quote["text"]


@pytest.mark.skipif(sys.platform != "linux", reason="FIFOs and /dev/null as on Linux")
def test_a_device_is_skipped(knowledge: Path) -> None:
    (knowledge / "null.txt").symlink_to("/dev/null")
    result = quotebot(knowledge, "index")
    assert result.returncode == 0
    assert warnings(result) == [
        "skipping null.txt: a link to a character device, not a regular file"
    ]
