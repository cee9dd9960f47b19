"""The ``expand`` and ``fields`` query syntax: ``a,b[c,d[e]]`` as a tree of lowercase keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Tree = dict[str, "Tree"]
MAX_DEPTH = 8
MAX_LENGTH = 2000


class ShapeSyntaxError(ValueError):
    pass


def parse_tree(text: str | None, what: str = "expand") -> Tree:
    """Parse ``orderLines[sku,quantity],total`` into ``{"orderlines": {"sku": {}, ...}}``."""
    if text is None or not text.strip():
        return {}
    if len(text) > MAX_LENGTH:
        raise ShapeSyntaxError(f"{what} is longer than {MAX_LENGTH} characters")
    root: Tree = {}
    stack: list[Tree] = [root]
    token = ""
    last: str | None = None

    def flush() -> None:
        nonlocal token, last
        name = token.strip().lower()
        if name:
            stack[-1].setdefault(name, {})
            last = name
        token = ""

    for position, char in enumerate(text, start=1):
        if char == ",":
            flush()
            last = None
        elif char == "[":
            flush()
            if last is None:
                raise ShapeSyntaxError(
                    f"{what}: '[' at position {position} must follow a property name")
            if len(stack) >= MAX_DEPTH:
                raise ShapeSyntaxError(f"{what} is nested deeper than {MAX_DEPTH} levels "
                                       f"(position {position})")
            stack.append(stack[-1][last])
            last = None
        elif char == "]":
            flush()
            if len(stack) == 1:
                raise ShapeSyntaxError(f"{what}: ']' at position {position} closes nothing")
            stack.pop()
            last = None
        else:
            token += char
    flush()
    if len(stack) != 1:
        raise ShapeSyntaxError(f"{what}: '[' opened but not closed by the end (position "
                               f"{len(text)})")
    return root


@dataclass(frozen=True, slots=True)
class Shape:
    """What a request asked of a response's shape: the ``fields`` to keep and the related
    entities to ``expand`` (an empty tree: everything, and nothing expanded)."""

    fields: Tree
    expand: Tree

    @classmethod
    def parse(cls, fields: str | None, expand: str | None) -> Shape:
        """Both trees from the query's text (``ShapeSyntaxError`` if either is malformed)."""
        return cls(parse_tree(fields, "fields"), parse_tree(expand, "expand"))


UNSHAPED = Shape({}, {})
"""Every field, nothing expanded: for answers that take no ``fields`` or ``expand``."""


def sub(tree: Tree | None, key: str) -> Tree | None:
    """The subtree under ``key``, or ``None`` when ``key`` is not asked for."""
    if tree is None:
        return None
    return tree.get(key.lower())


ALWAYS_KEPT = frozenset({"id", "$type"})


def apply_fields(value: Any, tree: Tree) -> Any:
    """Keep only the requested properties (and always ``id`` and ``$type``)."""
    if not tree:
        return value
    if isinstance(value, list):
        return [apply_fields(item, tree) for item in value]
    if not isinstance(value, dict):
        return value
    kept: dict[str, Any] = {}
    for key, item in value.items():
        lowered = key.lower()
        if lowered in ALWAYS_KEPT:
            kept[key] = item
        elif lowered in tree:
            kept[key] = apply_fields(item, tree[lowered])
    return kept
