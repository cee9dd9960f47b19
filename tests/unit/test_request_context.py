"""What a route reads of its request (``api.context``) and the ids in its path
(``api.ids``), without a server."""

from __future__ import annotations

from uuid import UUID

import pytest
from pydantic import TypeAdapter, ValidationError

from kasse.api.context import SESSION, SHAPE, STORE, RequestContext, resolver
from kasse.api.deps import documented_params
from kasse.api.ids import MALFORMED_ID, ORDER, OrderId
from kasse.domain.errors import NotFound

ID = "0b6e6f4e-5b1f-4c57-9d7b-0f0a3cf1d2a4"


def test_the_session_is_resolved_against_a_store_read_before_it() -> None:
    with pytest.raises(ValueError, match="STORE"):
        resolver(SESSION, SHAPE)
    with pytest.raises(ValueError, match="STORE"):
        resolver(SESSION, STORE)


def test_the_same_parts_give_the_same_resolver_documented_in_their_order() -> None:
    assert resolver(STORE, SHAPE) is resolver(STORE, SHAPE)
    names = [p.name for p in documented_params(resolver(SHAPE, STORE))]
    assert names == ["fields", "expand", "Store"]


def test_a_part_the_route_did_not_read_is_a_programming_error() -> None:
    ctx = RequestContext(None, None)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="Store header"):
        _ = ctx.config
    with pytest.raises(RuntimeError, match="session headers"):
        _ = ctx.session
    assert ctx.shape.fields == {} and ctx.allowed_in is None


def test_an_order_id_is_a_uuid_with_spaces_around_it_aside() -> None:
    assert ORDER.parse(f" {ID} ") == UUID(ID)
    with pytest.raises(NotFound, match="no order with id 'nope'"):
        ORDER.parse(" nope ")


def test_a_malformed_path_id_is_reported_as_such() -> None:
    adapter = TypeAdapter(OrderId)
    assert adapter.validate_python(ID) == UUID(ID)
    with pytest.raises(ValidationError) as raised:
        adapter.validate_python("12345")
    [error] = raised.value.errors()
    assert error["type"] == MALFORMED_ID and error["msg"] == "no order with id '12345'"
    # the id's text is not a template: braces in it come back as they were sent
    with pytest.raises(ValidationError, match=r"no order with id '\{x\}'"):
        adapter.validate_python("{x}")
