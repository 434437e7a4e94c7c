"""Events arrive from any script that speaks the websocket, with any arguments. Before a handler
runs, its arguments are checked against the handler's own type hints; a mismatch is refused with
a clear message instead of failing inside the handler.

- `str` takes a string; `int`/`float` a number or a numeric string (Reflex converts those);
  `bool` a boolean; `list`/`dict` a list/dict; `X | None` also None.
- An unparameterised `dict` takes any JSON object (forms and rule trees alike); `dict[str, X]`
  checks its values.
- `setvar(name, value)` may only reach a setter the State declares.
- Unknown argument names, unknown handlers and unknown States are refused.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any


class EventRefused(ValueError):
    """An event whose arguments do not fit its handler (a forged or malformed call)."""


@lru_cache(maxsize=2048)
def _handler_of(root_cls: Any, event_name: str) -> tuple[Any, Any] | None:
    path, _, name = event_name.rpartition(".")
    parts = tuple(path.split("."))
    try:
        cls = root_cls.get_class_substate(parts[1:]) if len(parts) > 1 else root_cls
    except Exception:  # Reflex raises its own error types for unknown paths
        return None
    handler = cls.event_handlers.get(name)
    return (cls, handler) if handler is not None else None


@lru_cache(maxsize=2048)
def _parameters(fn: Any) -> dict[str, Any]:
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # unresolvable annotation: check names only
        hints = {}
    return {
        p.name: hints.get(p.name, Any)
        for p in inspect.signature(fn).parameters.values()
        if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }


def _is_number_text(value: object) -> bool:
    if not isinstance(value, str) or len(value) > 40:
        return False
    try:
        float(value)
    except ValueError:
        return False
    return True


def fit(value: object, hint: Any) -> object:
    """`value` if it fits `hint`, else EventRefused."""
    if hint is Any or hint is inspect.Parameter.empty:
        return value
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        for arm in typing.get_args(hint):
            try:
                return fit(value, arm)
            except EventRefused:
                continue
        raise EventRefused("an argument had the wrong type")
    if hint is type(None):
        if value is None:
            return value
    elif hint is bool:
        if isinstance(value, bool):
            return value
    elif hint in (int, float):
        if (isinstance(value, (int, float)) and not isinstance(value, bool)) or _is_number_text(
            value
        ):
            return value
    elif hint is str:
        if isinstance(value, str):
            return value
    elif hint is dict or origin in (dict, Mapping):
        if isinstance(value, dict):
            if typing.get_args(hint) and typing.get_args(hint)[1] is not Any:
                return {k: fit(v, typing.get_args(hint)[1]) for k, v in value.items()}
            return value
    elif hint is list or origin in (list, Sequence, tuple):
        if isinstance(value, list):
            args = typing.get_args(hint)
            return [fit(v, args[0]) for v in value] if args and args[0] is not Any else value
    else:
        return value  # a type this guard does not know: the handler validates it
    raise EventRefused("an argument had the wrong type")


def checked_payload(root_cls: type, event_name: str, payload: dict) -> dict:
    """The payload to run the handler with, or EventRefused."""
    found = _handler_of(root_cls, event_name)
    if found is None:
        raise EventRefused("no such action")
    cls, handler = found
    if not isinstance(payload, dict):
        raise EventRefused("malformed event")
    fn = handler.fn
    if event_name.endswith(".setvar"):
        setter = cls.event_handlers.get(f"set_{payload.get('var_name')}")
        if setter is None or not isinstance(payload.get("var_name"), str):
            raise EventRefused("that value cannot be set")
        hints = list(_parameters(setter.fn).values())
        value = fit(payload.get("value"), hints[0]) if hints else payload.get("value")
        return {"var_name": payload["var_name"], "value": value}
    params = _parameters(fn)
    unknown = set(payload) - set(params)
    if unknown:
        raise EventRefused("unexpected arguments")
    return {name: fit(value, params[name]) for name, value in payload.items()}
