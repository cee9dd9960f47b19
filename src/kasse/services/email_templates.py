"""The templates of the shopper's emails: kasse's own (English and German), the ones a
store's templates folder replaces, and the check that refuses a broken one at import.

Every message is three templates in its language folder: ``<lang>/<type>.subject.txt``,
``<lang>/<type>.txt`` and ``<lang>/<type>.html``; they may extend and import the shared
``layout.html``, ``layout.txt``, ``parts.html``, ``parts.txt`` and their language's
``words.jinja``. A store's folder replaces any of them by name and may add languages (a
language folder then holds all twelve message templates and its ``words.jinja``).

Templates run in Jinja's sandbox with HTML autoescaping (``.html``) and strict undefined
names, so ``{{ order.nmber }}`` is an error, found when the store is imported: each
template is compiled and each message rendered once with made-up data, and a problem is
reported with the template's file and line.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from uuid import UUID

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    select_autoescape,
)
from jinja2.sandbox import ImmutableSandboxedEnvironment

from kasse.domain.emails import BUILT_IN_LANGUAGES, EmailSettings, EmailType, header_text
from kasse.services.email_content import MessageView, sample

BUILT_IN = Path(__file__).parent / "email_templates"
PARTS = ("subject.txt", "txt", "html")
SHARED = ("layout.html", "layout.txt", "parts.html", "parts.txt")
MAX_TEMPLATE_BYTES = 200_000
_NAME = re.compile(r"^(?:[a-z]{2,3}/)?[a-z][a-z0-9_.-]{0,60}\.(?:html|txt|jinja)$")


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str


@dataclass(frozen=True, slots=True)
class TemplateProblem:
    name: str
    """The template's name in the folder (``de/confirmation.html``)."""
    line: int | None
    message: str


def message_names(language: str) -> list[str]:
    """The templates every language folder holds."""
    return [f"{language}/{kind.value}.{part}" for kind in EmailType for part in PARTS] + [
        f"{language}/words.jinja"]


class _StoreTemplates(BaseLoader):
    """The store's templates by name; each is its own "file name", so that an error's
    traceback names the template it happened in."""

    def __init__(self, templates: Mapping[str, str]) -> None:
        self.templates = dict(templates)

    def get_source(self, environment: Environment, template: str
                   ) -> tuple[str, str, Callable[[], bool]]:
        if template not in self.templates:
            raise TemplateNotFound(template)
        return self.templates[template], template, lambda: True


def _environment(templates: Mapping[str, str]) -> ImmutableSandboxedEnvironment:
    loader = ChoiceLoader([_StoreTemplates(templates), FileSystemLoader(str(BUILT_IN))])
    return ImmutableSandboxedEnvironment(
        loader=loader, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False,
                                     default=False))


@lru_cache(maxsize=64)
def _cached(_store_id: UUID, _version: int, templates: tuple[tuple[str, str], ...]
            ) -> ImmutableSandboxedEnvironment:
    return _environment(dict(templates))


def environment_for(store_id: UUID, config_version: int, settings: EmailSettings
                    ) -> ImmutableSandboxedEnvironment:
    """The store's templates, compiled once per configuration version."""
    return _cached(store_id, config_version, tuple(sorted(settings.templates.items())))


def render(environment: ImmutableSandboxedEnvironment, view: MessageView) -> Rendered:
    """The subject, text and HTML of a message; raises ``TemplateError`` on a template
    that fails (found at import for a store's own)."""
    context = view.context()
    base = f"{view.language}/{view.type}"
    subject = environment.get_template(f"{base}.subject.txt").render(context)
    text = environment.get_template(f"{base}.txt").render(context)
    html = environment.get_template(f"{base}.html").render(context)
    return Rendered(header_text(subject, 250), text.strip() + "\n", html)


def check_templates(templates: Mapping[str, str], settings: EmailSettings
                    ) -> list[TemplateProblem]:
    """Every problem of a store's templates: unknown names, syntax errors, a language
    folder that is incomplete, and errors when each message is rendered with made-up
    data; each with its template's line where there is one."""
    problems: list[TemplateProblem] = []
    for name, source in templates.items():
        if not _NAME.match(name):
            problems.append(TemplateProblem(name, None, "not a template name kasse uses "
                                            "(<lang>/<type>.subject.txt|txt|html, "
                                            "<lang>/words.jinja, layout.html, parts.txt …)"))
        elif len(source.encode()) > MAX_TEMPLATE_BYTES:
            problems.append(TemplateProblem(name, None, "longer than 200 KB"))
    if problems:
        return problems
    environment = _environment(templates)
    for name, source in sorted(templates.items()):
        try:
            environment.parse(source, name=name)
        except TemplateSyntaxError as exc:
            problems.append(TemplateProblem(name, exc.lineno, exc.message or str(exc)))
    if problems:
        return problems
    languages = settings.languages
    if settings.default_language not in languages:
        problems.append(TemplateProblem(
            "", None, f"defaultLanguage {settings.default_language!r} has no templates "
                      f"(built in: {', '.join(BUILT_IN_LANGUAGES)})"))
    for language in sorted(languages - set(BUILT_IN_LANGUAGES)):
        missing = [n for n in message_names(language) if n not in templates]
        if missing:
            problems.append(TemplateProblem(
                f"{language}/", None, f"the language folder lacks {', '.join(missing)}"))
    if problems:
        return problems
    for language in sorted(languages):
        for kind in EmailType:
            try:
                render(environment, sample(kind, language))
            except TemplateNotFound as exc:
                problems.append(TemplateProblem(str(exc.name), None, "template not found"))
            except TemplateError as exc:
                problems.append(_located(exc, templates, f"{language}/{kind.value}"))
    return problems


def _located(exc: TemplateError, templates: Mapping[str, str], base: str) -> TemplateProblem:
    """Where in the store's templates an error while rendering happened: Jinja rewrites
    the traceback so that a template's frames carry its name and line."""
    trace: TracebackType | None = sys.exc_info()[2]
    found: tuple[str, int] | None = None
    while trace is not None:
        filename = trace.tb_frame.f_code.co_filename
        if filename in templates:
            found = (filename, trace.tb_lineno)
        trace = trace.tb_next
    if found is None:
        return TemplateProblem(f"{base}.*", None, str(exc))
    return TemplateProblem(found[0], found[1], str(exc))

