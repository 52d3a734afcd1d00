"""Decode each response body once and check it has the documented shape."""

from __future__ import annotations

import typing as t
from decimal import Decimal

import msgspec

if t.TYPE_CHECKING:
    import requests

_CACHE_ATTR = "_exec_json"
_decoder = msgspec.json.Decoder(float_hook=Decimal)


def json_body(response: requests.Response) -> t.Any:  # noqa: ANN401 - any JSON value
    """The parsed body, decoded on first use and cached on the response (numbers stay exact as Decimal)."""
    cached = response.__dict__.get(_CACHE_ATTR)
    if cached is None:
        try:
            cached = _decoder.decode(response.content)
        except msgspec.DecodeError as exc:
            raise ValueError(str(exc)) from exc
        response.__dict__[_CACHE_ATTR] = cached
    return cached


def replace_body(response: requests.Response, body: t.Any) -> None:  # noqa: ANN401 - any JSON value
    """Make `body` what `json_body` gives for this response (an answer the tap reads as another)."""
    response.__dict__[_CACHE_ATTR] = body


def shape_problem(body: t.Any, *, paginated: bool) -> str | None:  # noqa: ANN401, PLR0911 - one return per problem
    """What is wrong with a 200 body, or None when it matches the spec's list or object shape."""
    if not isinstance(body, dict):
        return f"expected a JSON object, got {type(body).__name__}"
    if not paginated:
        return None
    if not isinstance(body.get("data"), list):
        return "no `data` list in the response"
    pagination = body.get("pagination")
    if not isinstance(pagination, dict):
        return "no `pagination` object in the response"
    for key in ("page", "total_pages"):
        if not isinstance(pagination.get(key), int) or isinstance(pagination.get(key), bool):
            return f"`pagination.{key}` is not an integer"
    if not all(isinstance(row, dict) for row in body["data"]):
        return "`data` holds something other than objects"
    return None
