"""A web page's own interface is removed by structure: small shapes, then whole pages.

The pages in tests/pages/ are written for these tests: a Vector-2022-like encyclopedia skin
(appearance menu, language dropdown, edit links, navbox toggle), a news page with consent
dialogs, a paywall and a sign-up form inside the article, a documentation page (language list,
version select, edit links, ¶ anchors, a details toggle), a report wrapped whole in one form, and
a page saved while a consent modal was open (its whole content marked aria-hidden).
"""

from __future__ import annotations

from pathlib import Path

import lxml.html
import pytest

from bot.ingest.extraction import extract_in_process
from bot.ingest.extraction.interface import strip_interface

PAGES = Path(__file__).parent / "pages"
ARTICLE = "<p>The harbour wall was rebuilt in granite after the great storm of 1881.</p>"


def _stripped(body: str) -> str:
    tree = lxml.html.document_fromstring(f"<html><body>{body}{ARTICLE}</body></html>")
    strip_interface(tree)
    text = " ".join(tree.text_content().split())
    assert "rebuilt in granite after the great storm" in text  # the article always stays
    return text


@pytest.mark.parametrize(
    "body",
    [
        '<nav aria-label="Site"><ul><li><a href="/">INTERFACE</a></li></ul></nav>',
        '<div role="navigation"><a href="/a">INTERFACE</a></div>',
        '<div role="menu"><div role="menuitem">INTERFACE</div></div>',
        '<div role="dialog" aria-label="Cookies"><p>INTERFACE</p></div>',
        '<div aria-modal="true"><p>INTERFACE</p></div>',
        "<dialog open><p>INTERFACE</p></dialog>",
        '<div role="banner">INTERFACE</div>',
        '<div role="toolbar"><span>INTERFACE</span></div>',
        "<button>INTERFACE</button>",
        '<span role="button" tabindex="0">INTERFACE</span>',
        '<form><label for="x">INTERFACE</label><input id="x"></form>',
        "<select><option>INTERFACE</option></select>",
        '<div role="form"><p>INTERFACE</p><button>Yes</button></div>',
        "<details><summary>INTERFACE</summary></details>",
        "<div hidden>INTERFACE</div>",
        '<div aria-hidden="true">INTERFACE</div>',
        '<div style="color: red; display:none">INTERFACE</div>',
        '<div style="visibility: hidden">INTERFACE</div>',
        '<button aria-expanded="false" aria-controls="m">Menu</button><ul id="m"><li>INTERFACE</li></ul>',
        # a checkbox dropdown (MediaWiki skins): the pop-up toggle names no region
        '<div><input type="checkbox" aria-haspopup="true"><div><ul><li>INTERFACE</li></ul></div></div>',
        '<a class="skip" href="#content">INTERFACE</a>',
        '<ul><li><a href="#History">INTERFACE</a></li></ul>',
        '<a href="https://de.example.org/wiki/X" hreflang="de">INTERFACE</a>',
        '<a href="/w/index.php?title=X&amp;action=edit&amp;section=2">INTERFACE</a>',
        '<a href="https://github.com/o/r/edit/main/docs/x.rst">INTERFACE</a>',
        '<div class="cookie-notice"><span>INTERFACE</span> <a href="/cookies">Settings</a></div>',
        '<div id="consent-bar">INTERFACE <button>OK</button></div>',
    ],
)
def test_interface_shapes_are_removed(body: str) -> None:
    assert "INTERFACE" not in _stripped(body)


@pytest.mark.parametrize(
    ("body", "kept"),
    [
        # an in-text link to a footnote or section stays with its sentence
        (
            '<p>See <a href="#Origins">the origins</a> of the wall.</p>',
            "See the origins of the wall.",
        ),
        # the content of a <details> stays; only its toggle goes
        (
            "<details><summary>Show</summary><p>Granite came from Lundy.</p></details>",
            "Granite came from Lundy.",
        ),
        # an FAQ answer opened by a button holds prose: it stays
        (
            '<button aria-expanded="false" aria-controls="a1">Why granite?</button>'
            '<div id="a1"><p>Granite resists the sea.</p></div>',
            "Granite resists the sea.",
        ),
        # a long piece about cookies is not a consent banner
        (
            '<div class="cookie-recipe"><p>' + "Cream the butter and sugar. " * 30 + "</p></div>",
            "Cream the butter and sugar.",
        ),
        # text after a removed element (its tail) stays
        ("<p>Open daily<button>x</button> from nine.</p>", "Open daily from nine."),
        # hidden regions that hold prose are the article's own text, not shown at the moment
        ('<section hidden="until-found"><p>The quay dates from 1720.</p></section>', "1720."),
        ('<div role="tabpanel" style="display:none"><p>Tolls ended in 1902.</p></div>', "1902."),
        ('<div id="app" aria-hidden="true"><p>Cranes came in 1950.</p></div>', "1950."),
    ],
)
def test_content_next_to_interface_stays(body: str, kept: str) -> None:
    assert kept in _stripped(body)


def test_edit_link_goes_with_its_brackets() -> None:
    body = (
        '<h2>History<span class="mw-editsection"><span>[</span>'
        '<a href="/w/index.php?title=X&amp;action=edit">edit</a><span>]</span></span></h2>'
    )
    text = _stripped(body)
    assert "History" in text and "edit" not in text and "[" not in text and "]" not in text


def test_a_form_holding_prose_keeps_it_and_loses_its_controls() -> None:
    prose = "<p>" + "The board met four times this year to review the water rates. " * 4 + "</p>"
    text = _stripped(
        f'<form><input type="text"><label>Search</label>{prose}<button>Go</button></form>'
    )
    assert "The board met four times" in text
    assert "Search" not in text and "Go" not in text


def test_a_short_form_goes_whole() -> None:
    text = _stripped("<form><p>Get the morning briefing</p><input><button>Sign up</button></form>")
    assert "morning briefing" not in text


# ------------------------------------------------------------------------------- whole pages

PAGE_CASES = {
    "vector2022.html": (
        [
            "Jump to content",
            "Main menu",
            "Search Wikipedia",
            "Create account",
            "Contents",
            "Toggle History subsection",
            "4 languages",
            "Deutsch",
            "Français",
            "Edit links",
            "Edit source",
            "View history",
            "move to sidebar",
            "hide",
            "Appearance",
            "Small",
            "Standard",
            "Large",
            "Wide",
            "This page is always in small font size",
            "The content is as wide as possible for your browser window.",
            "Color (beta)",
            "Automatic",
            "Dark",
            "This page is always in light mode.",
            "[edit]",
            "[]",
            "edit",
            "Lighthouses of Elmshire",
            "Toggle limited content width",
            "Lighthouse on a sandbank in the Narrow Sea",
        ],
        [
            "is a cast-iron lighthouse standing on the Varne sandbank",
            "The tower is thirty-one metres tall",
            "History",
            "A petition from the pilots of Port Aldwin",
            "Keepers",
            "The last keepers left on 30 June 1987",
            "two white flashes every fifteen seconds",
        ],
    ),
    "news_consent.html": (
        [
            "partners store and access information",
            "Accept all",
            "Manage preferences",
            "Reject all",
            "You have read 3 of your 5 free articles",
            "Continue reading",
            "By continuing to browse",
            "Cookie settings",
            "OK, got it",
            "Skip to main content",
            "Menu",
            "Sport pages",
            "Tide tables",
            "Listen to this article",
            "Text size",
            "Dark mode",
            "Get the morning briefing",
            "Sign me up",
            "Show more",
            "Hidden teaser text",
            "book your spring cruise",
            "Tracking pixel fallback text",
        ],
        [
            "The island ferry will sail four times a day instead of seven",
            "The first sailing from the mainland will leave at 07:40",
            "The island council has asked the operator",
            "two new hybrid vessels",
            "By Tomas Reyes",
        ],
    ),
    "docs_site.html": (
        [
            "Jump to content",
            "Pallet 4.0 beta is out",
            "Search",
            "Version",
            "3.1",
            "Deutsch",
            "日本語",
            "Português",
            "Toggle color theme",
            "Edit this page",
            "View this page",
            "¶",
            "Show details",
            "Copy",
            "Was this page helpful?",
        ],
        [
            "Pallet keeps every job that fails with a transient error in a retry queue",
            "The doubling is jittered by up to twenty percent",
            "Choosing limits",
            "Set retry.max_attempts to change how many times a job is tried",
            "Watching the queue",
            "pallet queue stats",
        ],
    ),
    "form_article.html": (
        ["Search this site", "Go", "Rate this page", "Useful", "Send rating"],
        [
            "The board supplied 41 million cubic metres of water",
            "Two new reservoirs at Hollins Cross and Peat Moor",
            "Leakage from the board's pipes fell to eleven percent",
            "The board's charges for the coming year will rise by the rate of inflation only",
        ],
    ),
    # saved while a consent modal was open: the modal library had marked the page aria-hidden
    "spa_modal.html": (
        [
            "Your privacy matters to us",
            "essential cookies",
            "Allow all cookies",
            "Only essential cookies",
            "Donate to the trust",
        ],
        [
            "Volunteers spent three winters rebuilding the flight of seven locks",
            "new oak gates were made by a boatyard in Gloucester",
            "more than four hundred boats passed through it",
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(PAGE_CASES))
def test_page_interface_never_reaches_the_article(name: str) -> None:
    interface, article = PAGE_CASES[name]
    text = extract_in_process("html", (PAGES / name).read_bytes()).text
    words = set(text.split())
    for string in interface:
        # single words are checked as words (a "Go" inside "Gone" is no leak)
        leaked = string in words if " " not in string and string.isalpha() else string in text
        assert not leaked, f"{name}: interface text {string!r} in the article"
    for string in article:
        assert string in text, f"{name}: article text {string!r} lost"


def test_every_page_is_covered() -> None:
    assert sorted(p.name for p in PAGES.glob("*.html")) == sorted(PAGE_CASES)


def test_a_dateline_that_is_also_the_byline_closes_the_text_once() -> None:
    text = extract_in_process("html", (PAGES / "news_consent.html").read_bytes()).text
    assert text.count("By Tomas Reyes November 2, 2023") == 1
