r"""Record text made inert: markdown that renders as exactly the text it was, with no link, image, HTML or structure.

A card's detail is markdown that quotes the record (medication and condition texts, stop reasons, notes, ids) and
the draft. Every text piece that is not the card's own markup goes through inert(): clipped, invisible and
direction-changing characters removed, whitespace collapsed to one line, and every character that could start
markup escaped, so that it renders as exactly the text it was (a URL in a note reads as a URL, and is no link):
  \ ` * _ [ ] | ~ $     backslash-escaped (CommonMark renders "\x" as "x"): no emphasis, code, link, image,
                        table cell, strike-through or math; an escaped backslash cannot escape what follows
  & < >                 as entities: no raw HTML and no entity from the record
  . before a letter, :/ , @   backslash-escaped: the text autolinkers (GFM's, linkify's) look for is broken up
                              (www.x.org, x.org, https://, a@b) and renders unchanged
  # > + - = 1. 1)       escaped where a piece begins: it may begin a list item's line (no heading, quote, list)
A chain of str.replace is the fast path (str.translate leaves its ASCII fast path on any non-ASCII text).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

#: Longest record-derived text, per piece: a finding's account of the record, one note (the rest: an ellipsis).
MESSAGE_MAX = 400
NOTE_MAX = 300
#: Most notes shown under "Uncertain in the record" (a record with thousands of malformed entries says so once).
NOTES_SHOWN = 15
_ESCAPED = ("\\", "`", "*", "_", "[", "]", "|", "~", "$")
_ENTITIES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"))
_LINKISH = re.compile(r"\.(?=[^\W\d_])|:(?=/)|@")
_LEADING = re.compile(r"^(?:[#>+=-]|\d+(?=[.)]))")


#: Texts up to this long are made inert once per process (rule sentences, citations, drug names and record texts
#: repeat from call to call); longer ones, rare, each time, so that the memo stays small (a few MiB at most).
INERT_MEMO_CHARS = 1_000


def inert(text: str, limit: int | None = None) -> str:
    """``text`` (from the record, the draft or the knowledge files) as markdown that renders as exactly that text,
    with no link, image, HTML or markdown structure; clipped to ``limit`` characters first."""
    if len(text) <= INERT_MEMO_CHARS:
        return _inert_memo(text, limit)
    return _inert(text, limit)


def _inert(text: str, limit: int | None) -> str:
    if not text.isprintable():  # controls, zero-width and bidi characters, line and paragraph separators
        text = "".join(c if c.isprintable() else " " if c.isspace() or unicodedata.category(c) == "Cc" else ""
                       for c in text)
    if "  " in text or text[:1] == " " or text[-1:] == " ":
        text = " ".join(text.split())
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    for char in _ESCAPED:
        if char in text:  # the test is cheaper than a replace that finds nothing
            text = text.replace(char, "\\" + char)
    for char, entity in _ENTITIES:
        if char in text:
            text = text.replace(char, entity)
    text = _LINKISH.sub(r"\\\g<0>", text)
    leading = _LEADING.match(text)
    if leading:
        end = leading.end()
        text = f"{text[:end]}\\{text[end:]}" if text[:1].isdigit() else f"\\{text}"
    return text


_inert_memo = lru_cache(maxsize=4096)(_inert)
