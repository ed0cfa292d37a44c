"""Remove a web page's own interface before its article is looked for.

Menus, appearance settings ("This page is always in light mode.", text size, width), "Jump to
content", language lists, edit links, hide/show toggles and cookie or consent banners are part of
the page, not of the article. trafilatura drops most of them by its own heuristics, but not always
(an unseen Wikipedia page leaked two appearance-menu strings into quotes), so they are removed
first, by what they ARE in the markup rather than by what they say:

- controls and their labels: `<button>`, `<input>`, `<select>`, `<textarea>`, `<label>`,
  `<option>`, `<summary>` (the toggle of a `<details>`, whose content stays), and elements whose
  ARIA role is a control (button, checkbox, radio, switch, tab, menuitem, slider, ...);
- navigation, menus, dialogs and banners: `<nav>`, `<menu>`, `<dialog>`, `<template>`, roles
  navigation, menu, menubar, dialog, alertdialog, banner, search, toolbar, tablist, and
  `aria-modal="true"`;
- what a reader does not see: the `hidden` attribute, `aria-hidden="true"`, an inline
  `display: none` or `visibility: hidden`; and what a toggle opens (the `aria-controls` of an
  element with `aria-expanded` or `aria-haspopup`, or the siblings after a pop-up toggle that
  names none). Such a region stays when it holds paragraphs or headings: that is an article's
  own text, only not shown at the moment the page was saved (an FAQ answer or a tab panel not
  yet opened; collapsed sections of mobile Wikipedia, `hidden="until-found"`; a whole page that
  a modal library marked aria-hidden while a dialog was open).
- links that act on the page rather than lead somewhere: edit links (`action=edit`, `/edit/`),
  links to the same page in another language (`hreflang`), in-page links that are not inside a
  sentence (skip links, contents entries, footnote marks) or carry no word (the `¶` after a
  heading);
- consent banners: an element whose class or id names cookies, consent or GDPR and that is short
  and holds a control (a recipe card about cookies is long and has no buttons).

A `<form>` (or `role="form"`) is interface unless it holds prose: some sites wrap the whole page in
one form (ASP.NET), and a questionnaire explains itself in paragraphs. A form with at least
`FORM_PROSE_CHARS` characters of paragraph or heading text keeps them (its controls still go);
a shorter one (search box, newsletter sign-up, "Was this page helpful?") goes whole.
"""

from __future__ import annotations

import re
from typing import Any

FORM_PROSE_CHARS = 200
CONSENT_MAX_CHARS = 600

_CONTROL_TAGS = frozenset(
    ["button", "input", "select", "textarea", "label", "option", "optgroup", "datalist", "output"]
)
_REGION_TAGS = frozenset(["nav", "menu", "dialog", "template", "summary"])
_INTERFACE_ROLES = frozenset(
    [
        # landmarks and containers of interface
        "navigation",
        "menu",
        "menubar",
        "dialog",
        "alertdialog",
        "banner",
        "search",
        "toolbar",
        "tablist",
        "tooltip",
        # controls
        "button",
        "checkbox",
        "radio",
        "radiogroup",
        "switch",
        "tab",
        "menuitem",
        "menuitemcheckbox",
        "menuitemradio",
        "slider",
        "spinbutton",
        "combobox",
        "listbox",
        "option",
        "searchbox",
        "textbox",
        "scrollbar",
    ]
)
_HIDDEN_STYLE = re.compile(r"(?:^|;)\s*(?:display\s*:\s*none|visibility\s*:\s*hidden)\b", re.I)
_EDIT_LINK = re.compile(r"[?&](?:ve)?action=(?:edit|submit)\b|/edit/|[?&]edit\b", re.I)
_CONSENT_MARK = re.compile(r"cookie|consent|gdpr", re.I)
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_PROSE_TAGS = ("p", *_HEADINGS, "li", "blockquote", "dd", "td")
_WORDLESS = re.compile(r"^[\W_]*$")
_INLINE_TAGS = frozenset(["span", "sup", "sub", "small", "b", "i", "em", "strong", "a"])


def strip_interface(tree: Any) -> None:
    """Remove the page's interface from an lxml.html document, in place (tails are kept)."""
    elements = _elements(tree)
    opened = _opened_regions(elements)
    doomed = [e for e in elements if e in opened or _is_interface(e)]
    for element in _outermost(list(dict.fromkeys(_with_wrapper(e) for e in doomed))):
        element.drop_tree()
    for form in [f for f in _elements(tree) if _is_form(f)]:
        if _prose_chars(form) < FORM_PROSE_CHARS:
            form.drop_tree()


def _elements(tree: Any) -> list[Any]:
    return [e for e in tree.iter() if isinstance(e.tag, str)]


def _opened_regions(elements: list[Any]) -> set[Any]:
    """What disclosure and pop-up toggles open: the elements their aria-controls name, or, for
    a pop-up toggle naming none (the checkbox dropdowns of MediaWiki skins), the siblings after
    it, unless one of those holds prose."""
    by_id = {e.get("id"): e for e in elements if e.get("id")}
    opened: set[Any] = set()
    for toggle in elements:
        popup = toggle.get("aria-haspopup", "false").lower() != "false"
        if not (popup or "aria-expanded" in toggle.attrib):
            continue
        named = [by_id[i] for i in toggle.get("aria-controls", "").split() if i in by_id]
        if named:
            opened.update(n for n in named if not _holds_prose(n))
        elif popup:
            siblings = list(toggle.itersiblings())
            if not any(_holds_prose(s) for s in siblings):
                opened.update(siblings)
    return opened


def _holds_prose(element: Any) -> bool:
    return element.tag == "p" or next(element.iterdescendants("p", *_HEADINGS), None) is not None


def _is_interface(element: Any) -> bool:
    tag = element.tag.lower()
    if tag in ("html", "head", "body") or element.getparent() is None:
        return False
    if tag in _CONTROL_TAGS or tag in _REGION_TAGS:
        return True
    attrs = element.attrib
    if attrs.get("aria-modal", "").lower() == "true":
        return True
    if _is_hidden(attrs) and not _holds_prose(element):
        return True
    roles = set(attrs.get("role", "").lower().split())
    if roles & _INTERFACE_ROLES:
        return True
    if tag == "a" and _is_interface_link(element):
        return True
    return _is_consent_banner(element)


def _is_hidden(attrs: Any) -> bool:
    if "hidden" in attrs and attrs.get("hidden", "").lower() != "until-found":
        return True
    return attrs.get("aria-hidden", "").lower() == "true" or bool(
        _HIDDEN_STYLE.search(attrs.get("style", ""))
    )


def _is_interface_link(link: Any) -> bool:
    href = link.get("href", "")
    if link.get("hreflang") or _EDIT_LINK.search(href):
        return True
    if not href.startswith("#"):
        return False
    return not _in_running_text(link) or bool(_WORDLESS.match(link.text_content()))


def _in_running_text(element: Any) -> bool:
    """Whether words stand right before or after the element (a link inside a sentence)."""
    previous = element.getprevious()
    parent = element.getparent()
    before = previous.tail if previous is not None else (parent.text if parent is not None else "")
    return not (_WORDLESS.match(before or "") and _WORDLESS.match(element.tail or ""))


def _is_consent_banner(element: Any) -> bool:
    marks = f"{element.get('id', '')} {element.get('class', '')}"
    if not _CONSENT_MARK.search(marks):
        return False
    if len(element.text_content().strip()) > CONSENT_MAX_CHARS:
        return False
    return any(
        isinstance(e.tag, str) and (e.tag in _CONTROL_TAGS or e.tag == "a")
        for e in element.iterdescendants()
    )


def _is_form(element: Any) -> bool:
    return element.tag == "form" or "form" in element.get("role", "").lower().split()


def _prose_chars(form: Any) -> int:
    return sum(
        len(e.text_content().strip())
        for e in form.iterdescendants(*_PROSE_TAGS)
        if not any(a.tag in _PROSE_TAGS for a in e.iterancestors() if a is not form)
    )


def _with_wrapper(element: Any) -> Any:
    """The element, or the inline wrapper left wordless without it: "[edit]" goes brackets and
    all, where dropping the link alone would leave "[]" behind a heading."""
    while True:
        parent = element.getparent()
        if parent is None or parent.tag not in _INLINE_TAGS:
            return element
        rest = parent.text_content().replace(element.text_content(), "", 1)
        if not _WORDLESS.match(rest):
            return element
        element = parent


def _outermost(elements: list[Any]) -> list[Any]:
    """Drop each subtree once: an element inside another doomed one goes with it."""
    doomed = set(elements)
    return [e for e in elements if not any(a in doomed for a in e.iterancestors())]
