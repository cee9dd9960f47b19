"""The rules of staff accounts and management API tokens, as the domain states them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from kasse.domain.access import TOKEN_PREFIX, NotAllowed, Principal, Role, token_digest
from kasse.domain.errors import InvalidInput
from kasse.domain.staff import (
    ApiToken,
    StaffMember,
    TokenState,
    check_grant,
    check_name,
    check_password,
    generate_password,
    normalise_email,
)

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
SHOP, OUTLET = uuid4(), uuid4()


def test_an_email_is_kept_trimmed_and_in_lower_case() -> None:
    assert normalise_email("  Pat.Lee@Shop.Example ") == "pat.lee@shop.example"
    assert normalise_email("a@b") == "a@b"
    assert normalise_email("x" * 300 + "@" + "y" * 19) == "x" * 300 + "@" + "y" * 19  # 320


@pytest.mark.parametrize(("email", "words"), [
    ("", "an email is required"),
    ("   ", "an email is required"),
    ("pat", "is not an email address"),
    ("pat@", "is not an email address"),
    ("@shop.example", "is not an email address"),
    ("pat lee@shop.example", "without spaces"),
    ("pat@shop.example\x00", "control characters"),
    ("pat\n@shop.example", "control characters"),
    ("x" * 301 + "@" + "y" * 19, "longer than 320"),
])
def test_what_is_not_an_email_is_refused_with_the_reason(email: str, words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        normalise_email(email)


@pytest.mark.parametrize(("password", "words"), [
    ("short", "at least 12 characters (it has 5)"),
    ("elevenchars", "at least 12 characters (it has 11)"),
    ("x" * 1025, "at most 1024"),
    ("Pat.Lee@Shop.Example", "not be the email"),
    ("pat.lee.lee.lee", None),  # fine: 15 characters, not the email's name part
])
def test_the_password_policy(password: str, words: str | None) -> None:
    if words is None:
        check_password(password, "pat.lee@shop.example")
        return
    with pytest.raises(InvalidInput) as raised:
        check_password(password, "pat.lee@shop.example")
    assert words in raised.value.detail
    assert password.lower() not in raised.value.detail.lower()  # never echoed


def test_the_email_name_part_is_no_password_either() -> None:
    with pytest.raises(InvalidInput, match="email address or its name part"):
        check_password("Pat.Lee.Lee.Lee", "pat.lee.lee.lee@shop.example")


def test_twelve_to_1024_characters_pass() -> None:
    check_password("x" * 12, "pat@shop.example")
    check_password("x" * 1024, "pat@shop.example")


def test_a_generated_password_passes_the_policy_and_differs_each_time() -> None:
    passwords = {generate_password() for _ in range(50)}
    assert len(passwords) == 50
    for password in passwords:
        assert len(password) == 24
        check_password(password, "pat@shop.example")


@pytest.mark.parametrize("name", ["", "   ", "x" * 201, "tab\tname"])
def test_names_are_one_to_200_printable_characters(name: str) -> None:
    with pytest.raises(InvalidInput):
        check_name(name)
    assert check_name("  Pat Lee ") == "Pat Lee"


def owner(stores: frozenset | None = None) -> Principal:  # type: ignore[type-arg]
    return Principal(kind="staff", id="1", name="olga@shop.example", role=Role.OWNER,
                     store_ids=stores)


def test_an_owner_of_every_store_may_give_any_role_anywhere() -> None:
    for role in Role:
        check_grant(owner(), role, None)
        check_grant(owner(), role, frozenset({SHOP}))


def test_nobody_gives_more_than_their_role_allows() -> None:
    support = Principal(kind="token", id="2", name="helpdesk", role=Role.SUPPORT,
                        store_ids=None)
    check_grant(support, Role.SUPPORT, None)
    with pytest.raises(NotAllowed, match="may not give the fulfilment role"):
        check_grant(support, Role.FULFILMENT, None)
    manager = Principal(kind="staff", id="3", name="m@shop.example", role=Role.MANAGER,
                        store_ids=None)
    with pytest.raises(NotAllowed, match="staff:manage"):
        check_grant(manager, Role.OWNER, None)
    check_grant(manager, Role.FULFILMENT, None)  # what fulfilment may do, a manager may


def test_nobody_gives_stores_they_cannot_act_on() -> None:
    limited = owner(frozenset({SHOP}))
    check_grant(limited, Role.MANAGER, frozenset({SHOP}))
    with pytest.raises(NotAllowed, match="name the stores"):
        check_grant(limited, Role.MANAGER, None)
    with pytest.raises(NotAllowed, match=str(OUTLET)):
        check_grant(limited, Role.MANAGER, frozenset({SHOP, OUTLET}))


def test_a_new_staff_member_is_enabled_and_acts_as_themselves() -> None:
    member = StaffMember.new(" Pat@Shop.Example", " Pat ", Role.FULFILMENT,
                             frozenset({SHOP}), NOW)
    assert (member.email, member.name, member.disabled) == ("pat@shop.example", "Pat", False)
    principal = member.principal()
    assert (principal.kind, principal.name, principal.role) == (
        "staff", "pat@shop.example", Role.FULFILMENT)
    assert principal.store_ids == frozenset({SHOP})
    assert principal.staff_id == member.id
    with pytest.raises(InvalidInput, match="at least one store"):
        StaffMember.new("pat@shop.example", "Pat", Role.SUPPORT, frozenset(), NOW)


def test_a_token_is_issued_once_and_shows_only_its_prefix() -> None:
    token, plaintext = ApiToken.issue(" erp sync ", Role.MANAGER, frozenset({SHOP}), NOW,
                                      expires_days=30)
    assert plaintext.startswith(TOKEN_PREFIX) and len(plaintext) >= 40
    assert token.prefix == plaintext[:12] and token.name == "erp sync"
    assert token.expires_at == NOW + timedelta(days=30)
    assert plaintext not in repr(token) and token_digest(plaintext) not in repr(token)
    other, again = ApiToken.issue("erp sync", Role.MANAGER, None, NOW)
    assert again != plaintext and other.expires_at is None


@pytest.mark.parametrize("days", [0, -1, 3651])
def test_a_token_lives_one_day_to_ten_years(days: int) -> None:
    with pytest.raises(InvalidInput, match="1 to 3650 days"):
        ApiToken.issue("erp", Role.SUPPORT, None, NOW, expires_days=days)


def test_a_token_is_active_until_it_expires_or_is_revoked() -> None:
    token, _ = ApiToken.issue("erp", Role.SUPPORT, None, NOW, expires_days=1)
    assert token.state(NOW) is TokenState.ACTIVE
    assert token.state(NOW + timedelta(days=1)) is TokenState.EXPIRED
    revoked = ApiToken(**{**_fields(token), "revoked_at": NOW + timedelta(hours=1)})
    assert revoked.state(NOW + timedelta(hours=2)) is TokenState.REVOKED
    # revoked after it had expired (as when its name is given again): it expired
    late = ApiToken(**{**_fields(token), "revoked_at": NOW + timedelta(days=3)})
    assert late.state(NOW + timedelta(days=4)) is TokenState.EXPIRED


def _fields(token: ApiToken) -> dict:  # type: ignore[type-arg]
    return {name: getattr(token, name) for name in ApiToken.__slots__}  # type: ignore[attr-defined]
