"""Reading a store's email templates folder (``emails.templates`` in the store file,
relative to the file) for the import, which checks them and keeps their text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kasse.adapters.config_file import ConfigDocument, ConfigFileError

MAX_FILES = 200


def read_email_templates(document: ConfigDocument) -> dict[str, str] | None:
    """The templates of the folder the store file names, by their path in it
    (``de/confirmation.html``); ``None`` when it names none."""
    data: Any = document.data
    emails = data.get("emails") if isinstance(data, dict) else None
    folder_name = emails.get("templates") if isinstance(emails, dict) else None
    if not isinstance(folder_name, str) or not folder_name.strip():
        return None
    folder = Path(document.path).parent / folder_name.strip()
    line = document.line_of(("emails", "templates"))
    where = f"{document.path}: line {line}" if line else document.path
    if not folder.is_dir():
        raise ConfigFileError(f"{where}: emails.templates: no folder {folder}")
    files = sorted(path for path in folder.rglob("*")
                   if path.is_file() and not any(part.startswith(".") for part in
                                                  path.relative_to(folder).parts))
    if len(files) > MAX_FILES:
        raise ConfigFileError(f"{where}: emails.templates: {folder} holds more than "
                              f"{MAX_FILES} files")
    templates: dict[str, str] = {}
    for path in files:
        try:
            templates[path.relative_to(folder).as_posix()] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigFileError(f"{path}: not UTF-8 text ({exc.reason})") from None
        except OSError as exc:
            raise ConfigFileError(f"{path}: cannot read ({exc.strerror})") from None
    return templates
