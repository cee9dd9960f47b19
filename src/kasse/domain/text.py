"""Printable text: what names, references, tags and properties may hold."""

from __future__ import annotations

import re

_CONTROL_IN_LINE = re.compile("[\x00-\x1f\x7f-\x9f]")
_CONTROL_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def has_control_characters(value: str, *, multiline: bool = False) -> bool:
    """Whether ``value`` holds a control character: C0 (U+0000 to U+001F), DEL or C1
    (U+0080 to U+009F). ``multiline`` text may hold tab, line feed and carriage return.

    Checked as given, before any trimming: ``str.strip`` would quietly remove some of
    them (U+001C to U+001F, U+0085) from the ends."""
    pattern = _CONTROL_IN_TEXT if multiline else _CONTROL_IN_LINE
    return pattern.search(value) is not None
