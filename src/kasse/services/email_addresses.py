"""Email addresses, checked by a maintained library (``email-validator``) rather than a
regular expression of our own: the store's sender, reply-to and BCC at import, the
shopper's address before a message is made for it."""

from __future__ import annotations

from dataclasses import dataclass
from email.headerregistry import Address

from email_validator import EmailNotValidError, validate_email

from kasse.domain.emails import header_text
from kasse.domain.errors import InvalidInput

MAX_ADDRESS = 254


@dataclass(frozen=True, slots=True)
class Mailbox:
    """An address with an optional display name, both safe to put in a header."""

    address: str
    """ASCII (an internationalized domain in its IDNA form)."""
    name: str = ""

    def header(self) -> Address:
        """For ``email.message``: it encodes a display name that needs it (RFC 2047), so
        no text of the name can be read as header syntax."""
        username, _, domain = self.address.rpartition("@")
        return Address(display_name=self.name, username=username, domain=domain)


def mailbox(text: str, what: str, *, name: str | None = None) -> Mailbox:
    """``shop@example.com`` or ``Shop Name <shop@example.com>``, checked; ``name`` (e.g. a
    shopper's) replaces the display name written in ``text``. Raises ``InvalidInput``
    saying why an address is not usable."""
    if len(text) > 400:
        raise InvalidInput(f"{what}: the address is longer than 400 characters")
    try:
        checked = validate_email(text.strip(), allow_display_name=True,
                                 check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidInput(f"{what}: {text.strip()[:100]!r} is not a usable email address "
                           f"({exc})") from None
    if checked.ascii_email is None:
        raise InvalidInput(f"{what}: {checked.normalized!r} has a non-ASCII name before the "
                           "@, which needs SMTPUTF8; kasse sends ASCII addresses only")
    if len(checked.ascii_email) > MAX_ADDRESS:
        raise InvalidInput(f"{what}: the address is longer than {MAX_ADDRESS} characters")
    shown = checked.display_name if name is None else name
    return Mailbox(address=checked.ascii_email, name=header_text(shown or "", 100))
