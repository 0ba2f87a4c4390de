"""The one redactor: every string the suite lets out (terminal lines, verify.json, junit.xml,
GitHub annotation and step summary, forensics, captured logs, CLI output) passes
``Redactor.text`` or ``Redactor.data``, built once per run from every secret in play.

A secret is matched in every spelling it takes on its way out: raw, URL-encoded (both hex
cases, ``+`` for space), base64 of ``user:password`` (UTF-8 and Latin-1, as a Basic header
carries it), JSON-escaped, XML/HTML-escaped (text and attribute), Python-``repr``-escaped
(str and bytes), those escapes applied twice (a repr inside JSON, JSON inside XML), and
split at a newline (raw, ``\\n``-escaped, ``%0A`` or ``&#10;`` between any two of its
characters). A secret shorter than ``SHORT`` characters is replaced only where it stands as
a word of its own (not inside a longer word), so a two-letter password does not turn every
``RESULT=PASS`` into noise; longer secrets are replaced wherever they occur.
"""

from __future__ import annotations

import base64
import html
import itertools
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus
from xml.sax.saxutils import escape, quoteattr

REDACTED = "***"
SHORT = 4  # below this many characters a secret is matched as a whole word only
# Line breaks as they appear once a secret split at a newline is written out.
LINE_BREAKS = (r"\r?\n", r"(?:\\r)?\\n", r"%0[aA]", r"&#10;", r"&#xA;", r"%250A")


@dataclass(frozen=True)
class Credential:
    """``user:password`` pairs are secrets in their joined and base64 forms too."""

    user: str
    password: str


def _json(text: str) -> str:
    return json.dumps(text)[1:-1]


def _json_unicode(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)[1:-1]


def _json_slash(text: str) -> str:
    return _json(text).replace("/", "\\/")  # PHP/Java encoders escape '/'


def _xml_text(text: str) -> str:
    return escape(text)


def _xml_attribute(text: str) -> str:
    return quoteattr(text, {"\n": "&#10;", "\r": "&#13;", "\t": "&#09;"})[1:-1]


def _xml_apos(text: str) -> str:
    return escape(text, {'"': "&quot;", "'": "&apos;"})


def _html(text: str) -> str:
    return html.escape(text)


def _repr(text: str) -> str:
    return repr(text)[1:-1]


def _ascii(text: str) -> str:
    return ascii(text)[1:-1]


def _bytes_repr(text: str) -> str:
    return repr(text.encode("utf-8", "surrogateescape"))[2:-1]


def _url(text: str) -> str:
    return quote(text, safe="")


def _url_path(text: str) -> str:
    return quote(text)


def _url_plus(text: str) -> str:
    return quote_plus(text, safe="")


def _url_lower(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), _url(text))


ESCAPES: tuple[Callable[[str], str], ...] = (
    _json,
    _json_unicode,
    _json_slash,
    _xml_text,
    _xml_attribute,
    _xml_apos,
    _html,
    _repr,
    _ascii,
    _bytes_repr,
    _url,
    _url_path,
    _url_plus,
    _url_lower,
)


def _basic(user: str, password: str) -> list[str]:
    found = []
    for encoding in ("utf-8", "latin-1"):
        try:
            raw = f"{user}:{password}".encode(encoding)
        except UnicodeEncodeError:
            continue
        found.append(base64.b64encode(raw).decode())
    return found


def spellings(secret: str | Credential) -> set[str]:
    """Every form of one secret this redactor replaces (split-at-newline forms aside)."""
    if isinstance(secret, Credential):
        bases = {
            secret.password,
            f"{secret.user}:{secret.password}",
            f"{quote(secret.user, safe='')}:{quote(secret.password, safe='')}",
            *_basic(secret.user, secret.password),
        }
    else:
        bases = {secret}
    bases |= {line for base in list(bases) for line in base.splitlines()}
    forms = set(bases)
    for base in bases:
        once = {escape_(base) for escape_ in ESCAPES}
        forms |= once
        forms |= {second(first) for first in once for second in ESCAPES}
    return {form for form in forms if form}


# A word starts after a non-alphanumeric character, or after an escaped \n, \r or \t
# (a short secret on a line of its own inside a JSON or repr string).
WORD_START = r"(?:(?<![0-9A-Za-z])|(?<=\\[nrt]))"


def _pattern(form: str) -> str:
    """A form as a regex: whole-word only when short."""
    escaped = re.escape(form)
    if len(form) >= SHORT:
        return escaped
    return rf"{WORD_START}{escaped}(?![0-9A-Za-z])"


def _split_patterns(secret: str) -> list[str]:
    """The secret with a line break between any two of its characters, raw and in the
    escaped spellings a line break survives in (JSON, repr, XML)."""
    if len(secret) < SHORT:
        return []
    breaks = "(?:" + "|".join(LINE_BREAKS) + ")"
    found = set()
    for cut in range(1, len(secret)):
        head, tail = secret[:cut], secret[cut:]
        for escape_ in (str, _json, _json_unicode, _repr, _xml_text, _xml_attribute):
            found.add(re.escape(escape_(head)) + breaks + re.escape(escape_(tail)))
    return sorted(found, key=len, reverse=True)


class Redactor:
    """Replaces every spelling of every secret it was given with ``***``."""

    def __init__(self, secrets: Iterable[str | Credential] = ()):
        self.secrets = [s for s in secrets if (s.password if isinstance(s, Credential) else s)]
        forms = set(itertools.chain.from_iterable(spellings(s) for s in self.secrets))
        raw = {s.password if isinstance(s, Credential) else s for s in self.secrets}
        patterns = [p for secret in raw for p in _split_patterns(secret)]
        # Longest first: an escaped form is never half-replaced by a shorter raw one.
        patterns += [_pattern(form) for form in sorted(forms, key=len, reverse=True)]
        self._regex = re.compile("|".join(patterns)) if patterns else None

    def __bool__(self) -> bool:
        return self._regex is not None

    def text(self, value: str) -> str:
        if self._regex is None or not value:
            return value
        return self._regex.sub(REDACTED, value)

    def data(self, value: Any) -> Any:
        """A JSON-able structure with every string (keys too) redacted."""
        if self._regex is None:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.data(k): self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value

    def found(self, value: str) -> list[str]:
        """The spellings present in ``value`` (for tests and the leak scan)."""
        if self._regex is None:
            return []
        return [m.group() for m in self._regex.finditer(value)]


NOTHING = Redactor()
