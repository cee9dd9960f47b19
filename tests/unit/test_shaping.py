from __future__ import annotations

import pytest

from kasse.api.shaping import ShapeSyntaxError, apply_fields, parse_tree


def test_nested_bracket_syntax() -> None:
    tree = parse_tree("orderLines[sku,quantity],paymentInfo[country,paymentMethod[taxClass]],x")
    assert tree == {
        "orderlines": {"sku": {}, "quantity": {}},
        "paymentinfo": {"country": {}, "paymentmethod": {"taxclass": {}}},
        "x": {},
    }
    assert parse_tree(" ") == {} and parse_tree(None) == {}


@pytest.mark.parametrize("bad", ["a[b", "a]b", "[a]", "a[b]]", "a" + "[b" * 10 + "]" * 10])
def test_malformed_trees_are_rejected(bad: str) -> None:
    with pytest.raises(ShapeSyntaxError):
        parse_tree(bad)


def test_fields_keep_id_and_type() -> None:
    body = {"$type": "Country", "id": "1", "code": "DE", "name": "Germany",
            "regions": [{"id": "r", "code": "BY", "name": "Bavaria"}]}
    assert apply_fields(body, parse_tree("name,regions[code]")) == {
        "$type": "Country", "id": "1", "name": "Germany", "regions": [{"id": "r", "code": "BY"}]}
