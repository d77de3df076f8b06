"""What ``run`` is told, checked before anything is measured: runners, ``--set``, ``-O``."""

from __future__ import annotations

import json

from triggerbench.errors import UserInputError


def resolve_runners(names: list[str]) -> list[str]:
    """Runner names as given, or the groups ``all`` and ``devices``; an unknown name is refused."""
    from triggerbench.runners import registry

    if names in (["all"], ["devices"]):  # what can run here; the null runner measures nothing
        here = [s.name for s in registry.statuses() if s.available and s.name != "null"]
        devices = [n for n in here if not registry.get(n).emulator]
        # Devices first: their results are on screen in seconds, before any firmware build; with
        # 'devices', no emulator, whose speed is a cost (a C- or RTL-simulation), not a device's.
        return devices if names == ["devices"] else devices + [n for n in here if n not in devices]
    known = registry.names()
    for name in names:  # fail now, before any measuring
        if ":" in name:
            registry.get(name)  # a module:Class spec that does not load is a typo, not a failure
        elif name not in known:
            raise UserInputError(f"unknown runner {name!r}; known runners: {', '.join(known)}")
    return names


def override_settings(settings, assignments: list[str]):
    """Apply ``--set KEY=VALUE`` to measurement settings, validated like a plan file."""
    from pydantic import ValidationError

    values = settings.model_dump()
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep or key not in values:
            known = ", ".join(values)
            raise UserInputError(f"--set {item!r}: use KEY=VALUE with KEY one of: {known}")
        values[key] = value
    try:
        return type(settings).model_validate(values)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = f" {err['loc'][0]}" if err["loc"] else ""
        raise UserInputError(f"--set{where}: {err['msg'].removeprefix('Value error, ')}") from None


def parse_runner_options(assignments: list[str]) -> dict[str, str | int | float | bool]:
    """Parse ``--option KEY=VALUE``: numbers and true/false become typed, the rest stay text.

    Each runner checks its own keys when it is prepared (unknown keys fail that runner).
    """
    options: dict[str, str | int | float | bool] = {}
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserInputError(f"--option {item!r}: use KEY=VALUE")
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = value
        options[key] = parsed if isinstance(parsed, str | int | float | bool) else value
    return options


def check_runner_options(runners: list[str], options: dict, group: bool = False) -> None:
    """Refuse backend options a runner does not take now, before any measuring (exit 2).

    With a runner group (``all``, ``devices``), a key scoped to a registered runner this host
    cannot run is kept: the same command then works on every host of a farm.
    """
    from triggerbench.measure.session import runner_options_for
    from triggerbench.runners import registry

    known = set(registry.names()) if group else set()
    for key in options:  # a scoped key no runner of this run takes would be silently ignored
        scope = key.split(".", 1)[0]
        if "." in key and scope not in runners and scope not in known:
            raise UserInputError(
                f"--option {key}: scoped to a runner this run does not use; runners: {', '.join(runners)}"
            )
    classes = {}
    for name in runners:
        try:
            classes[name] = registry.get(name)
        except Exception:  # a runner that cannot load is recorded as failed when measured
            continue
    for name, cls in classes.items():
        try:
            cls.parse_options(runner_options_for(name, options))
        except UserInputError as exc:
            raise UserInputError(f"{exc}{_scope_hint(options, classes, cls)}") from None


def _scope_hint(options: dict, classes: dict, refused_by) -> str:
    """`` (scope it to the runner that takes it: keras.jit_compile=VALUE)``, or nothing.

    Only for an unscoped key the refusing runner does not take: a bad value for its own key
    needs no hint.
    """
    own = refused_by.options_model.model_fields if refused_by.options_model else {}
    for key in (k for k in options if "." not in k and k not in own):
        takers = [n for n, c in classes.items() if c.options_model and key in c.options_model.model_fields]
        if takers:
            return f" (scope it to the runner that takes it: {takers[0]}.{key}=VALUE)"
    return ""


def resolve_ints(values: list[str], what: str) -> list[int]:
    """Whole numbers >= 1 (batch sizes), or one error line naming ``what``."""
    try:
        ints = [int(v) for v in values]
    except ValueError:
        raise UserInputError(f"{what} must be whole numbers, got {', '.join(values)}") from None
    if any(i < 1 for i in ints):
        raise UserInputError(f"{what} must be >= 1")
    return ints
