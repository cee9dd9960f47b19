"""Response bodies whose keys come from their DTO: each shape is declared once.

The DTOs (``api.dto``, ``api.order_dto``, ``api.checkout_dto``) document the wire in the
OpenAPI document. Responses are not built as Pydantic models: validating and dumping a
model per object would cost more than the rendering itself on the cart and checkout
paths. Instead ``shape(OrderDto)`` gives a function that takes the DTO's field names as
keyword arguments and returns a plain dict with the DTO's keys (aliases such as ``$type``)
in the DTO's order, so a key the DTO does not declare, or one it declares and the caller
forgets, fails at the first call instead of drifting away from the document.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Collection
from typing import Any

from pydantic import BaseModel

Body = dict[str, Any]


def shape(model: type[BaseModel], *, only: Collection[str] = (),
          exclude: Collection[str] = ()) -> Callable[..., Body]:
    """A builder of ``model``'s bodies: ``shape(CheckoutTokenDto)(token=…, orderNumber=…,
    payUrl=…)``.

    Every field is a required keyword argument (by its Python name: ``type_``,
    ``continue_``) except a discriminator with one possible value (``$type: "Store"``),
    which the body always carries. ``only`` keeps just the fields named, ``exclude``
    leaves some out: the shorter bodies the DTO also describes (``{"value": …}``).
    """
    fields = model.model_fields
    unknown = (set(only) | set(exclude)) - set(fields)
    if unknown:
        raise ValueError(f"{model.__name__} has no field {', '.join(sorted(unknown))}")
    params: list[str] = []
    items: list[str] = []
    for name, field in fields.items():
        if (only and name not in only) or name in exclude:
            continue
        key = repr(field.alias or name)
        constant = _single_literal(field.annotation)
        if constant is not None:
            items.append(f"{key}: {constant!r}")
        else:
            params.append(name)
            items.append(f"{key}: {name}")
    # Generated as a function with a dict display, as dataclasses generate __init__: a
    # plain call, as cheap as writing the dict out by hand (which checked nothing).
    signature = f"*, {', '.join(params)}" if params else ""
    source = f"def build({signature}):\n    return {{{', '.join(items)}}}\n"
    namespace: dict[str, Any] = {}
    exec(source, namespace)  # noqa: S102 (the source is made of the DTO's field names)
    build: Callable[..., Body] = namespace["build"]
    build.__qualname__ = build.__name__ = f"{model.__name__}_body"
    build.__doc__ = f"A body of {model.__name__}."
    return build


def _single_literal(annotation: Any) -> str | None:
    """The one value a discriminator such as ``Literal["Store"] | None`` can take."""
    values = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    if len(values) == 1 and typing.get_origin(values[0]) is typing.Literal:
        literal = typing.get_args(values[0])
        if len(literal) == 1 and isinstance(literal[0], str):
            return literal[0]
    return None
