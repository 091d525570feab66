"""One declaration per setting: its default, allowed values, words and command-line flag.

A configuration dataclass declares each field with `option(...)`. From that one declaration
the dataclass validates itself (`validate`), the command line builds its options and the
window builds its form fields (`options_of` lists them, in field order, with the field's name
and type filled in), so a setting cannot be described differently in two places.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from .errors import UserError


class _Nothing:
    def __repr__(self) -> str:
        return "NOTHING"


NOTHING: Any = _Nothing()  # no value given


class ConfigError(UserError, ValueError):
    """A configuration value is out of range or unknown; `field` names the setting."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Cli:
    """The command-line option of a setting.

    `flag` defaults to the field's name (`--weight-decay`); a yes/no setting becomes a bare
    flag that sets the opposite of its default (`--compile`, `--no-...`). `words` lists the
    words the flag takes and the value each stands for; `const` makes a bare flag that sets
    this value. Settings that declare the same flag share one option (`--seed`); `word` marks
    a yes/no setting that is on when that shared option is given this word
    (`--batch-size auto`). `group` names the section of the help it is listed in.
    """

    flag: str = ""
    help: str | None = None
    metavar: str | None = None
    words: Mapping[str, Any] | None = None
    const: Any = NOTHING
    word: str = ""
    group: str = ""


@dataclass(frozen=True)
class Option:
    """A setting: its rules, its words in the form and its command-line option.

    `choices` maps each allowed value to the form's words for it (`None` among them: "auto").
    `min`/`max` bound a number (`above`/`below` make `min`/`max` themselves invalid).
    For the form: `label`, `help` (the tooltip), `text` (a check box's own words), `special`
    (the words shown at a number box's lowest position, which means None for a nullable
    setting), `suffix`, `step`, `decimals`, `top` (the box's highest value when `max` leaves
    it open), `bottom` (its lowest when `min` leaves more), `scale` (the box shows the value
    times this: 100 for a percentage; `step`, `top` and `bottom` are in the value's units),
    `entry` (typed, not spun), `resolved` (the form shows what "auto" resolves to;
    `unresolved` when that is None), `off` (a yes/no setting that the lowest position turns
    off, the number keeping its default), `strategies` (the strategies it applies to; None:
    all) and `idle` (the tooltip while it does not apply). `form=False` keeps it off the
    generated form, `cli=False` off the command line. `name`, `kind` and `nullable` are
    filled in by `options_of`.
    """

    default: Any = None
    label: str = ""
    help: str = ""
    choices: Mapping[Any, str] | None = None
    min: float | None = None
    max: float | None = None
    above: bool = False
    below: bool = False
    text: str = ""
    special: str = ""
    suffix: str = ""
    step: float | None = None
    decimals: int | None = None
    top: float | None = None
    bottom: float | None = None
    scale: float = 1.0
    entry: bool = False
    resolved: bool = False
    unresolved: str = ""
    off: str = ""
    strategies: tuple[str, ...] | None = None
    idle: str = ""
    form: bool = True
    cli: Cli | bool = True
    name: str = ""
    kind: type = object
    nullable: bool = False

    def problem(self, value: Any) -> str | None:
        """What is wrong with `value` ("must be at least 1, not 0"), or None."""
        if value is None:
            return None if self.nullable else "must be set"
        if self.kind in (int, float) and not isinstance(value, int | float):
            return f"must be a number, not {value!r}"
        if self.choices is not None and value not in self.choices:
            allowed = ", ".join(str(c) for c in self.choices if c is not None)
            return f"must be one of {allowed}, not {value!r}"
        low = self.min is not None and (value <= self.min if self.above else value < self.min)
        high = self.max is not None and (value >= self.max if self.below else value > self.max)
        if not (low or high):
            return None
        if self.min is not None and self.max is not None:
            return f"must be in {'(' if self.above else '['}{self.min:g}, {self.max:g}" \
                   f"{')' if self.below else ']'}, not {value:g}"
        if low:
            return f"must be {'more than' if self.above else 'at least'} {self.min:g}, " \
                   f"not {value:g}"
        return f"must be {'below' if self.below else 'at most'} {self.max:g}, not {value:g}"

    def check(self, value: Any, name: str = "") -> None:
        """Raise `ConfigError` naming the setting (as `name`, else its field name)."""
        problem = self.problem(value)
        if problem:
            raise ConfigError(f"{name or self.name} {problem}", field=self.name)

    @property
    def command_line(self) -> Cli | None:
        """The command-line option, its flag filled in; None when there is none."""
        if self.cli is False:
            return None
        cli = self.cli if isinstance(self.cli, Cli) else Cli()
        const, flag = cli.const, cli.flag
        if self.kind is bool and const is NOTHING and cli.words is None and not cli.word:
            const = not self.default
        if not flag:
            dashed = self.name.replace("_", "-")
            flag = f"--no-{dashed}" if const is False else f"--{dashed}"
        return dataclasses.replace(cli, flag=flag, const=const)


def option(default: Any = None, **declared: Any) -> Any:
    """A dataclass field with this default, described by `Option(**declared)`."""
    return dataclasses.field(default=default,
                             metadata={"option": Option(default=default, **declared)})


@functools.cache
def options_of(cls: type) -> tuple[Option, ...]:
    """The options of the dataclass `cls`, in field order, with name and type filled in."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        declared = f.metadata.get("option")
        if declared is None:
            raise TypeError(f"{cls.__name__}.{f.name} is declared without option()")
        kind, nullable = _kind(hints[f.name])
        out.append(dataclasses.replace(declared, name=f.name, kind=kind, nullable=nullable))
    return tuple(out)


def option_named(cls: type, name: str) -> Option:
    """The option of the setting `name` of the dataclass `cls`."""
    return next(o for o in options_of(cls) if o.name == name)


def validate(config: Any) -> None:
    """Raise `ConfigError` for the first setting of `config` its option refuses."""
    kind: type = type(config)
    for opt in options_of(kind):
        opt.check(getattr(config, opt.name))


def _kind(hint: Any) -> tuple[type, bool]:
    """(the value's type, whether None is allowed) of a field's annotation."""
    union = isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union
    args = typing.get_args(hint) if union else ()
    if not args:
        return typing.get_origin(hint) or hint, False
    kinds = [a for a in args if a is not type(None)]
    return typing.get_origin(kinds[0]) or kinds[0], len(kinds) < len(args)


T = TypeVar("T")


class Section:
    """A configuration section (a frozen dataclass): validation from the fields' options,
    and conversion to and from plain dictionaries."""

    def __post_init__(self) -> None:
        validate(self)

    def to_dict(self) -> dict[str, Any]:
        """As JSON keeps it: a tuple becomes a list (`from_dict` turns it back)."""
        out = dataclasses.asdict(self)  # type: ignore[call-overload]  # subclasses are dataclasses
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any] | None) -> T:
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]  # a dataclass, as above
        kwargs = {k: v for k, v in (data or {}).items() if k in known}
        for key, value in kwargs.items():
            if isinstance(value, list):
                kwargs[key] = tuple(value)
        return cls(**kwargs)
