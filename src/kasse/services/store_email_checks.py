"""Checking a store file's ``emails`` section: addresses a mail server will take, payment
instructions for methods the store has, and templates that compile and render (the
folder's templates are read by whoever read the file, and passed in)."""

from __future__ import annotations

from collections.abc import Mapping

from kasse.domain.emails import BUILT_IN_LANGUAGES, EmailSettings
from kasse.domain.errors import InvalidInput
from kasse.services.email_addresses import mailbox
from kasse.services.email_templates import check_templates
from kasse.services.store_file import StoreFile

Loc = tuple[str | int, ...]


def check_emails(f: StoreFile, templates: Mapping[str, str] | None
                 ) -> list[tuple[Loc, str]]:
    section = f.emails
    problems: list[tuple[Loc, str]] = []
    addresses: list[tuple[Loc, str]] = []
    if section.sender is not None:
        addresses.append((("emails", "sender"), section.sender))
    if section.replyTo is not None:
        addresses.append((("emails", "replyTo"), section.replyTo))
    addresses += [(("emails", "bcc", i), bcc) for i, bcc in enumerate(section.bcc)]
    for loc, text in addresses:
        try:
            mailbox(text, "address")
        except InvalidInput as exc:
            problems.append((loc, exc.detail.removeprefix("address: ")))
    methods = {m.alias.lower() for m in f.paymentMethods}
    for alias in section.paymentInstructions:
        if alias.lower() not in methods:
            problems.append((("emails", "paymentInstructions", alias),
                             f"payment method {alias!r} is not in paymentMethods"))
    if section.templates is not None and templates is None:
        problems.append((("emails", "templates"),
                         "the templates folder is read by `kasse import FILE`, relative to "
                         "the file; it was not given here"))
        return problems
    if not templates:
        if section.defaultLanguage not in BUILT_IN_LANGUAGES:
            problems.append((("emails", "defaultLanguage"),
                             f"no templates in {section.defaultLanguage!r}: kasse has "
                             f"{', '.join(BUILT_IN_LANGUAGES)}; add a templates folder "
                             f"with {section.defaultLanguage}/…"))
        return problems
    settings = EmailSettings(default_language=section.defaultLanguage, templates=templates)
    folder = (section.templates or "").rstrip("/")
    for problem in check_templates(templates, settings):
        where = f"{folder}/{problem.name}" if problem.name else folder
        line = f": line {problem.line}" if problem.line else ""
        problems.append((("emails", "templates"), f"{where}{line}: {problem.message}"))
    return problems
