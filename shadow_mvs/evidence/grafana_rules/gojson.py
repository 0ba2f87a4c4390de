"""Dashboard JSON read the way Grafana reads it: ``simplejson.NewJson`` decodes ONE value
with Go's ``json.Decoder`` (trailing data is never read), and says what is wrong in Go's
words (``encoding/json`` scanner texts), which is what Grafana logs for a file it skips."""

from __future__ import annotations

import json
from typing import Any

# Python's json message -> Go's scanner context for "invalid character 'c' <context>".
_KEY_EXPECTED = "Expecting property name enclosed in double quotes"
_CONTEXT = {
    "Expecting value": "looking for beginning of value",
    _KEY_EXPECTED: "looking for beginning of object key string",
    "Expecting ':' delimiter": "after object key",
}


def _quote_char(char: str) -> str:
    """Go's ``quoteChar``: 'x', '\\'' and escapes as strconv.Quote writes them."""
    if char == "'":
        return "'\\''"
    if char == '"':
        return "'\"'"
    return "'" + json.dumps(char)[1:-1] + "'"


def _open_container(text: str, pos: int) -> str:
    """'{' or '[': the innermost container still open at ``pos`` (strings skipped)."""
    stack: list[str] = []
    in_string = escaped = False
    for char in text[:pos]:
        if in_string:
            escaped = not escaped and char == "\\"
            in_string = escaped or char != '"'
            continue
        if char == '"':
            in_string = True
        elif char in "[{":
            stack.append(char)
        elif char in "]}" and stack:
            stack.pop()
    return stack[-1] if stack else ""


def go_json_error(text: str) -> tuple[Any, str | None]:
    """(the first JSON value, None) or (None, Go's error text)."""
    stripped = text.lstrip()
    if not stripped:
        return None, "EOF"
    try:
        value, _end = json.JSONDecoder().raw_decode(stripped)
        return value, None
    except json.JSONDecodeError as exc:
        pos = exc.pos
        if pos >= len(stripped.rstrip()):
            return None, "unexpected EOF"
        char = stripped[pos]
        if exc.msg.startswith("Invalid control character"):
            return None, f"invalid character {_quote_char(char)} in string literal"
        if exc.msg == "Expecting ',' delimiter":
            inside = _open_container(stripped, pos)
            where = "after object key:value pair" if inside == "{" else "after array element"
            return None, f"invalid character {_quote_char(char)} {where}"
        context = _CONTEXT.get(exc.msg)
        if context is None:
            return None, exc.msg
        return None, f"invalid character {_quote_char(char)} {context}"
