"""TOML settings files (plans, host configurations) read into pydantic models, problems in one line."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from triggerbench.errors import UserInputError

Model = TypeVar("Model", bound=BaseModel)


def read_toml_model(path: Path, model: type[Model], kind: str) -> Model:
    """Read the TOML file ``path`` into ``model``; any problem is one ``UserInputError`` line.

    ``kind`` names the file in the message of a file that is not there ("plan file not found").
    An unknown key is named with the keys its table takes.
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise UserInputError(f"{kind} not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserInputError(f"{path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserInputError(f"{path}: cannot read it: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise UserInputError(_one_line(exc, path, model)) from None


def _table_model(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The model of the table at ``loc`` (a key's location less the key), None if not a model."""
    owner: type[BaseModel] | None = model
    for part in loc:
        field = owner.model_fields.get(str(part)) if owner else None
        annotation = field.annotation if field else None
        owner = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    return owner


def _one_line(exc: ValidationError, path: Path, model: type[BaseModel]) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        table = _table_model(model, tuple(err["loc"][:-1]))
        known = ", ".join(table.model_fields) if table else "none"
        return f"{path}: unknown key {where!r}; known keys here: {known}"
    return f"{path}: {where}: {err['msg']}"
