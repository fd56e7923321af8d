"""Markdown that renders user-supplied text as text: escaping, code spans, tables.

A pull-request comment shows test ids, parameters, host and CPU names: every
string a user controls goes through ``md`` (or ``code`` for ids) so it renders
as written, and still reads plainly in a raw log or report.md.
"""

from __future__ import annotations

import re
from collections.abc import Sequence


def md(text: object, *, inline: bool = False) -> str:
    """Markdown-safe text that still reads plainly in a raw log or report.md.

    Only what GitHub's Markdown would misread is escaped (docs/github-action.md,
    "Readable raw Markdown"): characters that open markup anywhere in a line
    (``\\ ` * < | ~ & $``), ``]`` before ``(`` or ``[`` (links),
    ``_`` where it could start or end emphasis,
    ``#`` before a digit (issue links), ``:`` that would close an emoji code or
    start ``//`` of an autolink, and a block marker (``#``, ``>``, ``-``, ``+``,
    ``=``, ``1.``) at the start. A zero-width space after ``@`` stops mentions, and
    one after ``www`` stops a ``www.`` autolink; line
    breaks and control characters become spaces. Test ids go in ``code`` instead.
    ``inline``: the text never starts a line (a table cell), so no block marker.
    """
    chars = [char if char.isprintable() else " " for char in str(text)]
    out = []
    for index, char in enumerate(chars):
        before = chars[index - 1] if index else " "
        after = chars[index + 1] if index + 1 < len(chars) else " "
        if char in _ALWAYS:
            out.append("\\" + char)
        elif char == "]" and after in "([":  # a link or image needs ]( or ][; [x] alone is text
            out.append("\\]")
        elif char == "_" and not (before.isalnum() and after.isalnum()):
            out.append("\\_")
        elif char == "#" and after.isdigit():
            out.append("\\#")
        elif char == "@":
            out.append("@&#8203;")
        else:
            out.append(char)
    escaped = _EMOJI_OR_URL.sub(r"\\:", "".join(out))
    escaped = _WWW.sub("\\1&#8203;.", escaped)
    return escaped if inline else _BLOCK_START.sub(_escape_block_marker, escaped)


def cell(text: object) -> str:
    """A table cell's text: ``md`` without line-start escapes (a cell starts no block)."""
    return md(text, inline=True)


def _escape_block_marker(found: re.Match[str]) -> str:
    """``# x`` -> ``\\# x``, ``1. x`` -> ``1\\. x``: text, not a heading or list."""
    lead, marker = (found.group(1), found.group(2)) if found.group(2) else found.group(3, 4)
    return f"{lead}\\{marker}"


_ALWAYS = frozenset("\\`*<|~&$")


# an emoji code has a letter, or is :+1: / :-1:; 12:34:56+00:00 stays as it is
_EMOJI_OR_URL = re.compile(r"(?<!\\):(?=[A-Za-z0-9_+-]*[A-Za-z][A-Za-z0-9_+-]*:|[+-]1:|//)")


# GitHub links www.example.com by itself: a zero-width space after www keeps it text
_WWW = re.compile(r"(?<![A-Za-z0-9])(www)\.", re.IGNORECASE)


_BLOCK_START = re.compile(r"^(\s*)([#>+=-])|^(\s*\d+)([.)])(?=\s|$)")


def code(text: object, *, table: bool = False) -> str:
    """A code span: shows the text as it is (ids, paths), since nothing in it is markup.

    The fence is one backtick longer than any run inside; in a table cell ``|``
    still needs ``\\|`` (GitHub splits cells before it reads spans). ``@`` in a
    span is no mention; line breaks and control characters become spaces.
    """
    body = "".join(char if char.isprintable() else " " for char in str(text))
    if table:
        body = body.replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if body.startswith(("`", " ")) or body.endswith(("`", " ")) or not body else ""
    return f"{fence}{pad}{body}{pad}{fence}"


def plain(text: object) -> str:
    """Terminal-safe text: control characters (escape sequences, newlines) become spaces."""
    return "".join(char if char.isprintable() else " " for char in str(text))


def md_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], *, right: Sequence[bool] = ()
) -> list[str]:
    """A GitHub table; cells are escaped by the caller with ``cell`` or ``code``.

    ``right`` says per column whether it holds figures, aligned right (default: none).
    """
    rule = ["---:" if right and right[index] else "---" for index in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "".join(f"{part}|" for part in rule)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines
