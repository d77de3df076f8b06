"""The shared ``-O KEY=VALUE`` check: one pydantic model per runner, one-line errors."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field, field_validator

from triggerbench import runners
from triggerbench.errors import UserInputError
from triggerbench.options import (
    OPTIONS_CONFIG,
    Flag,
    Number,
    Text,
    WholeNumber,
    any_case,
    parse_options,
)
from triggerbench.runners import registry
from triggerbench.runners.base import Runner

Mode = Literal["Fast", "Slow"]


class Demo(BaseModel):
    model_config = OPTIONS_CONFIG

    mode: Annotated[Mode, any_case(Mode)] = "Fast"
    count: WholeNumber = Field(1, ge=1)
    period_s: Number = Field(1.0, gt=0)
    verbose: Flag = False
    name: Text | None = None


def test_defaults_and_conversions():
    assert parse_options(Demo, {}, "demo") == Demo()
    parsed = parse_options(
        Demo, {"mode": "slow", "count": 3.0, "period_s": 2, "verbose": "Yes", "name": 7}, "demo"
    )
    assert parsed == Demo(mode="Slow", count=3, period_s=2.0, verbose=True, name="7")
    assert isinstance(parsed.period_s, float)
    for text, flag in (("true", True), ("0", False), (1, True), ("no", False), (False, False)):
        assert parse_options(Demo, {"verbose": text}, "demo").verbose is flag


def test_options_are_frozen():
    with pytest.raises(ValueError, match="frozen"):
        parse_options(Demo, {}, "demo").count = 2  # type: ignore[misc]


def test_unknown_keys_list_the_known_ones():
    with pytest.raises(UserInputError) as err:
        parse_options(Demo, {"speed": 1, "colour": "red", "count": 0}, "demo")
    assert str(err.value) == (
        "demo runner: unknown option(s) colour, speed; known options: mode, count, period_s, verbose, name"
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"count": 0}, "demo runner: option count=0: use a whole number >= 1"),
        ({"count": 2.5}, "demo runner: option count=2.5: use a whole number >= 1"),
        ({"count": True}, "demo runner: option count=True: use a whole number >= 1"),
        ({"count": "many"}, "demo runner: option count='many': use a whole number >= 1"),
        ({"period_s": 0}, "demo runner: option period_s=0: use a number > 0"),
        ({"period_s": False}, "demo runner: option period_s=False: use a number > 0"),
        ({"verbose": "maybe"}, "demo runner: option verbose='maybe': use true or false"),
        ({"verbose": "on"}, "demo runner: option verbose='on': use true or false"),
        ({"verbose": 2}, "demo runner: option verbose=2: use true or false"),
        ({"mode": "medium"}, "demo runner: option mode='medium': use one of Fast, Slow"),
        (
            {"mode": "x", "count": 0},
            "demo runner: option mode='x': use one of Fast, Slow; option count=0: use a whole number >= 1",
        ),
    ],
)
def test_bad_values_are_one_line_with_a_reason(extra, message):
    with pytest.raises(UserInputError) as err:
        parse_options(Demo, extra, "demo")
    assert str(err.value) == message
    assert "\n" not in str(err.value)


def test_a_validators_own_words_are_kept_on_one_line():
    class Odd(BaseModel):
        model_config = OPTIONS_CONFIG
        count: WholeNumber = 1

        @field_validator("count")
        @classmethod
        def _odd(cls, value: int) -> int:
            if value % 2 == 0:
                raise ValueError("use an odd number\n(the pipeline needs a middle stage)")
            return value

    with pytest.raises(UserInputError) as err:
        parse_options(Odd, {"count": 4}, "demo")
    assert (
        str(err.value) == "demo runner: option count=4: use an odd number (the pipeline needs a middle stage)"
    )


def test_a_model_without_options_says_it_takes_none():
    class NoOptions(BaseModel):
        model_config = OPTIONS_CONFIG

    assert parse_options(NoOptions, {}, "demo") == NoOptions()
    with pytest.raises(UserInputError) as err:
        parse_options(NoOptions, {"speed": 1}, "demo")
    assert str(err.value) == "demo runner: unknown option(s) speed; it takes none"


def test_every_runner_module_declares_its_options():
    # Without a model a runner read options.extra unchecked: -O jit_compile=False was truthy text.
    helpers = {"__init__", "base", "options", "outofprocess", "registry"}
    found, undeclared = [], []
    for path in sorted(Path(runners.__file__).parent.glob("*.py")):
        if path.stem in helpers:
            continue
        module = importlib.import_module(f"triggerbench.runners.{path.stem}")
        for cls in vars(module).values():
            if isinstance(cls, type) and issubclass(cls, Runner) and cls.__module__ == module.__name__:
                found.append(cls.name)
                if cls.options_model is None or cls.options_model.model_config.get("frozen") is not True:
                    undeclared.append(cls.name)
                else:
                    cls.parse_options({})  # its defaults are valid
    assert sorted(found) == [
        "hls4ml",
        "keras",
        "keras-gpu",
        "null",
        "onnxruntime",
        "onnxruntime-cuda",
        "onnxruntime-tensorrt",
        "openvino",
        "rtl",
        "vart",
    ]
    assert undeclared == []


@pytest.mark.parametrize("name", ["keras", "onnxruntime", "openvino"])
def test_cpu_runners_refuse_an_unknown_key(name):
    with pytest.raises(UserInputError, match=f"^{name} runner: unknown option\\(s\\) no_such_key;"):
        registry.get(name).parse_options({"no_such_key": 1})


def test_the_null_runner_ignores_the_keys_meant_for_the_runners_beside_it():
    null = registry.get("null")
    assert isinstance(null.parse_options({"latency_cutoff": 5, "jit_compile": "maybe"}), null.options_model)
