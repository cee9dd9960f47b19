"""Reading store configuration files (YAML or TOML) with the line of every value.

Numbers are read from their source text straight into ``Decimal`` (never through
float), so ``0.1`` in a file is exactly one tenth in the database.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

Loc = tuple[str | int, ...]


class ConfigFileError(Exception):
    """A file that cannot be read or parsed; the message names the file and line."""


@dataclass
class ConfigDocument:
    path: str
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)
    text: str = ""

    def line_of(self, loc: Loc) -> int | None:
        """The line of ``loc`` or of the nearest enclosing value that has one."""
        for cut in range(len(loc), -1, -1):
            line = self.lines.get(tuple(loc[:cut]))
            if line is not None:
                return line
        return None


def read_config_file(path: str | Path) -> ConfigDocument:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigFileError(f"{file}: no such file") from None
    except UnicodeDecodeError as exc:
        raise ConfigFileError(f"{file}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise ConfigFileError(f"{file}: cannot read ({exc.strerror})") from None
    suffix = file.suffix.lower()
    if suffix == ".toml":
        return parse_toml(text, str(file))
    if suffix in (".yaml", ".yml"):
        return parse_yaml(text, str(file))
    raise ConfigFileError(f"{file}: unknown file type {suffix!r}; use .yaml, .yml or .toml")


# --- YAML -------------------------------------------------------------------------

_YAML_NUMBER = {"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}


def parse_yaml(text: str, name: str = "<yaml>") -> ConfigDocument:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}" if mark is not None else "unknown line"
        raise ConfigFileError(f"{name}: {where}: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigFileError(f"{name}: {exc}") from None
    doc = ConfigDocument(path=name, data=None, text=text)
    if root is not None:
        doc.data = _yaml_value(root, (), doc)
    return doc


def _yaml_value(node: yaml.Node, loc: Loc, doc: ConfigDocument) -> Any:
    doc.lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in result:
                raise ConfigFileError(
                    f"{doc.path}: line {key_node.start_mark.line + 1}: duplicate key {key!r}")
            doc.lines[(*loc, key)] = key_node.start_mark.line + 1
            result[key] = _yaml_value(value_node, (*loc, key), doc)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_yaml_value(item, (*loc, i), doc) for i, item in enumerate(node.value)]
    if node.tag in _YAML_NUMBER:
        raw = str(node.value).replace("_", "")
        try:
            number = Decimal(raw)
        except InvalidOperation:
            # .inf, .nan and sexagesimal forms are not money; keep the text for validation.
            return raw
        return int(number) if node.tag.endswith(":int") and number == number.to_integral() \
            else number
    constructor = yaml.SafeLoader.yaml_constructors.get(node.tag)
    if node.tag == "tag:yaml.org,2002:str" or constructor is None:
        return str(node.value)
    # null, bool, timestamps: use PyYAML's own safe constructors.
    return constructor(yaml.SafeLoader(""), node)


# --- TOML -------------------------------------------------------------------------

_TOML_LINE = re.compile(r"at line (\d+)")


def parse_toml(text: str, name: str = "<toml>") -> ConfigDocument:
    try:
        data = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _TOML_LINE.search(message)
        where = f"line {match.group(1)}: " if match else ""
        raise ConfigFileError(f"{name}: {where}{message}") from None
    doc = ConfigDocument(path=name, data=data, text=text)
    doc.lines = _TomlLines(text).map(data)
    return doc


class _TomlLines:
    """Best-effort lines of TOML keys (tomllib keeps none): a forward scan by key path."""

    def __init__(self, text: str) -> None:
        self.rows = text.splitlines()

    def map(self, data: Any) -> dict[Loc, int]:
        lines: dict[Loc, int] = {(): 1}
        self._walk(data, (), 0, lines)
        return lines

    def _find(self, key: str, start: int, table: bool = False) -> int | None:
        quoted = re.escape(key)
        if table:
            pattern = re.compile(rf"^\s*\[\[?\s*([\w.\"'-]+\.)?[\"']?{quoted}[\"']?\s*\]\]?")
        else:
            pattern = re.compile(rf"^\s*(?:[\w\"'-]+\.)*[\"']?{quoted}[\"']?\s*=|[{{,]\s*"
                                 rf"[\"']?{quoted}[\"']?\s*=")
        for index in range(start, len(self.rows)):
            if pattern.search(self.rows[index]):
                return index
        return None

    def _walk(self, value: Any, loc: Loc, start: int, lines: dict[Loc, int]) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                found = self._find(str(key), start, table=isinstance(sub, (dict, list)))
                if found is None:
                    found = self._find(str(key), start)
                if found is not None:
                    lines[(*loc, key)] = found + 1
                self._walk(sub, (*loc, key), found if found is not None else start, lines)
        elif isinstance(value, list):
            key = loc[-1] if loc else ""
            cursor = start
            for index, item in enumerate(value):
                if isinstance(item, dict) and isinstance(key, str):
                    found = self._find(key, cursor, table=True)
                    if found is not None:
                        lines[(*loc, index)] = found + 1
                        cursor = found + 1
                        self._walk(item, (*loc, index), found, lines)
                        continue
                lines[(*loc, index)] = start + 1
                self._walk(item, (*loc, index), start, lines)
