"""One way to check a runner's ``-O KEY=VALUE`` options: a frozen pydantic model and one-line errors.

A runner declares its options as a pydantic model (``extra="forbid"``, frozen) built from the
types here, and calls :func:`parse_options`. ``ValidationError``'s multi-line report is turned
into one line that names the runner, the option and what to give instead, because the CLI shows
a ``UserInputError`` as one line.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic_core import PydanticCustomError

from triggerbench.errors import UserInputError

Options = TypeVar("Options", bound=BaseModel)

#: The config every options model uses: unknown keys are errors, parsed options never change.
OPTIONS_CONFIG = ConfigDict(frozen=True, extra="forbid")

_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no")
_SIGNS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}


def _not_a_bool(value: Any) -> Any:
    # pydantic's lax int/float take True as 1; an option such as reuse_factor=true is a mistake.
    if isinstance(value, bool):
        raise PydanticCustomError("number_type", "a boolean is not a number")
    return value


def _flag(value: Any) -> bool:
    # Only these spellings: pydantic's lax bool also takes on/off/t/f/y/n, too loose for options.
    text = str(value).lower() if isinstance(value, bool | int | str) else None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise PydanticCustomError("flag_type", "not true or false")


def _text(value: Any) -> Any:
    # The CLI turns -O xmodel=123 into a number; a text option takes it back as text, as before.
    return str(value) if isinstance(value, int | float) else value


#: A whole number; bools and non-integral floats are refused (add bounds with ``Field(ge=..)``).
WholeNumber = Annotated[int, BeforeValidator(_not_a_bool)]
#: A number, stored as float; bools are refused (add bounds with ``Field(gt=..)``).
Number = Annotated[float, BeforeValidator(_not_a_bool)]
#: true/false, also as the strings true/false/1/0/yes/no (any case) or the integers 1/0.
Flag = Annotated[bool, BeforeValidator(_flag)]
#: Text; numbers are taken as their text.
Text = Annotated[str, BeforeValidator(_text)]


def any_case(choices: Any) -> BeforeValidator:
    """A validator that maps a value to the ``Literal`` choice it equals ignoring case.

    Use as ``backend: Annotated[Backend, any_case(Backend)] = "Vitis"`` with
    ``Backend = Literal["Vitis", "Vivado"]``; a value matching none is left for the ``Literal``
    to refuse.
    """
    by_lower = {str(c).lower(): c for c in get_args(choices)}

    def match(value: Any) -> Any:
        return by_lower.get(str(value).lower(), value) if isinstance(value, str) else value

    return BeforeValidator(match)


def parse_options(model: type[Options], extra: Mapping[str, Any], runner: str) -> Options:
    """Validate a runner's ``options.extra`` into ``model``.

    Args:
        model: The runner's options model (``OPTIONS_CONFIG``: frozen, unknown keys forbidden).
        extra: ``RunnerOptions.extra``, the ``-O KEY=VALUE`` pairs as the CLI parsed them.
        runner: The runner's name, for the messages.

    Returns:
        The validated options; keys not given keep the model's defaults.

    Raises:
        UserInputError: one line: the unknown keys and the known ones, or each bad
            ``KEY=VALUE`` with what to give instead.
    """
    try:
        return model.model_validate(dict(extra))
    except ValidationError as exc:
        raise UserInputError(_message(model, exc, extra, runner)) from None


def _message(model: type[BaseModel], exc: ValidationError, extra: Mapping[str, Any], runner: str) -> str:
    errors = exc.errors()
    unknown = sorted({str(e["loc"][0]) for e in errors if e["type"] == "extra_forbidden" and e["loc"]})
    if unknown:
        known = f"known options: {', '.join(model.model_fields)}" if model.model_fields else "it takes none"
        return f"{runner} runner: unknown option(s) {', '.join(unknown)}; {known}"
    reasons: dict[str, str] = {}
    for error in errors:
        key = str(error["loc"][0]) if error["loc"] else ""
        if key not in reasons:
            reasons[key] = _reason(model, key, error)
    parts = [f"option {key}={extra.get(key)!r}: {reason}" for key, reason in reasons.items()]
    return f"{runner} runner: " + "; ".join(parts)


def _reason(model: type[BaseModel], key: str, error: Any) -> str:
    """What to give instead: a validator's own words, else what the field's type and bounds take."""
    if error["type"] == "value_error":
        return " ".join(str(error["ctx"]["error"]).split())
    field = model.model_fields.get(key)
    if field is None:
        return error["msg"]
    kind = _base_type(field.annotation)
    if get_origin(kind) is Literal:
        return f"use one of {', '.join(map(str, get_args(kind)))}"
    bounds = "".join(_bound(item) for item in field.metadata)
    if kind is bool:
        return "use true or false"
    if kind is int:
        return f"use a whole number{bounds}"
    if kind is float:
        return f"use a number{bounds}"
    return " ".join(str(error["msg"]).split())


def _base_type(annotation: Any) -> Any:
    """``int`` for ``Annotated[int, ...] | None`` and the like; a ``Literal`` stays itself."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            annotation = next(a for a in get_args(annotation) if a is not type(None))
        else:
            return annotation


def _bound(item: Any) -> str:
    """`` >= 1`` for the ``annotated_types.Ge(1)`` that ``Field(ge=1)`` puts in a field's metadata."""
    return "".join(f" {sign} {getattr(item, name)}" for name, sign in _SIGNS.items() if hasattr(item, name))
