"""Command-line flags generated from `RunConfig`: a flag per field, typed after the field, its
description as help and its default shown, so the CLI and the config cannot drift apart.

A command declares which fields it takes and receives a `ConfigRequest` (the `--config` file
plus the flags actually given, which override the file):

    @app.command()
    @run_config_flags(pick("data", "train.seed"))
    def evaluate(checkpoint: Path, request: ConfigRequest) -> None:
        config = request.load()

A flag is named after its field (`train.batch_per_domain` -> `--batch-per-domain`); a field
whose name is not enough carries a `Flag` in config.py with its names and environment variable.
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, get_args, get_origin

import typer
from pydantic import SecretStr
from pydantic.fields import FieldInfo

from client_trainer.config import Flag, RunConfig, load_config, read_config_file

R = TypeVar("R")
GIVEN = frozenset({"COMMANDLINE", "ENVIRONMENT"})  # sources of a value the user chose


def run_config_fields() -> dict[str, FieldInfo]:
    """Every field of RunConfig by dotted path ("train.steps"), in declaration order."""
    fields: dict[str, FieldInfo] = {}
    for section, info in RunConfig.model_fields.items():
        model = info.annotation
        assert isinstance(model, type)
        for name, field in model.model_fields.items():
            fields[f"{section}.{name}"] = field
    return fields


def pick(*selectors: str, without: Iterable[str] = ()) -> tuple[str, ...]:
    """Dotted field paths: a section name takes all its fields, "*" every field, a dotted path
    one field; `without` drops some. An unknown name is a KeyError when the CLI is built."""
    fields = run_config_fields()
    chosen: list[str] = []
    for selector in selectors:
        matched = [p for p in fields if selector in ("*", p, p.partition(".")[0])]
        if not matched:
            raise KeyError(f"no RunConfig field or section {selector!r}")
        chosen += [p for p in matched if p not in chosen]
    dropped = set(without)
    if unknown := dropped - set(fields):
        raise KeyError(f"no RunConfig field {sorted(unknown)}")
    return tuple(p for p in chosen if p not in dropped)


@dataclass(frozen=True)
class ConfigRequest:
    """What a command was asked for: the --config file and the flags given (dotted path ->
    value), which override the file's fields."""

    file: Path | None
    overrides: dict[str, Any]

    def load(self) -> RunConfig:
        return load_config(self.file).with_overrides(self.overrides)

    def chose(self, path: str) -> bool:
        """Whether the user set `path` (a flag, its environment variable or the file)."""
        if path in self.overrides:
            return True
        if self.file is None:
            return False
        section, _, name = path.partition(".")
        return name in read_config_file(self.file).get(section, {})


@dataclass(frozen=True)
class _Generated:
    path: str  # "teacher.max_inputs_per_request"
    param: str  # the callback's keyword: "teacher__max_inputs_per_request"
    parameter: inspect.Parameter
    names: tuple[str, ...]  # its option names, "--on/--off" pairs split


def _option_names(parameter: inspect.Parameter) -> set[str]:
    """The option names a typer parameter answers to: its declared ones, else --its-name."""
    extras = get_args(parameter.annotation)[1:]
    infos = [m for m in extras if isinstance(m, typer.models.OptionInfo)]
    declared = [d for i in infos for d in (i.default, *(i.param_decls or ())) if isinstance(d, str)]
    names = [n for d in declared for n in d.split("/") if n.startswith("-")]
    return set(names) or {f"--{parameter.name.replace('_', '-')}"}


def _option_type(annotation: Any) -> Any:
    """The type typer parses the flag as: the field's own, without None; strings for the types
    pydantic parses itself (SecretStr, TargetPolicy)."""
    if get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        annotation = args[0] if len(args) == 1 else str
    if annotation in (bool, int, float, str, Path) or get_origin(annotation) is Literal:
        return annotation
    return str


def _shown_default(field: FieldInfo) -> Any:
    default = field.get_default(call_default_factory=True)
    if isinstance(default, SecretStr):
        return None  # never print a key
    if default is None or isinstance(default, bool | int | float | str | Path):
        return default
    return str(default)


def _flag_names(path: str, field: FieldInfo, kind: Any) -> tuple[tuple[str, ...], str | None]:
    flag = next((m for m in field.metadata if isinstance(m, Flag)), Flag())
    name = path.partition(".")[2].replace("_", "-")
    names = flag.names or ((f"--{name}/--no-{name}",) if kind is bool else (f"--{name}",))
    return names, flag.envvar


def _generate(path: str, field: FieldInfo) -> _Generated:
    kind = _option_type(field.annotation)
    names, envvar = _flag_names(path, field, kind)
    default = _shown_default(field)
    option = typer.Option(
        *names,
        help=field.description,
        envvar=envvar,
        show_default=default is not None,
        rich_help_panel=f"{path.partition('.')[0].capitalize()} options",
    )
    param = path.replace(".", "__")
    annotation = Annotated[kind | None, option]  # type: ignore[valid-type]
    parameter = inspect.Parameter(
        param, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
    )
    return _Generated(path, param, parameter, tuple(n for d in names for n in d.split("/")))


CONFIG_FILE = inspect.Parameter(
    "config",
    inspect.Parameter.KEYWORD_ONLY,
    default=None,
    annotation=Annotated[
        Path | None,
        typer.Option("--config", help="Run config (.toml or .json); flags override it."),
    ],
)
CONTEXT = inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)


def run_config_flags(paths: Sequence[str]) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Decorator: the command keeps its own parameters and gains `--config` and a flag per
    field in `paths`; its parameter annotated `ConfigRequest` receives the file and the flags
    given (by the user or an environment variable, never a flag's default)."""
    fields = run_config_fields()
    generated = [_generate(p, fields[p]) for p in paths]

    def decorate(command: Callable[..., R]) -> Callable[..., R]:
        hints = typing.get_type_hints(command, include_extras=True)
        target = next(n for n, h in hints.items() if h is ConfigRequest)
        own = [
            p.replace(annotation=hints.get(p.name, p.annotation))
            for p in inspect.signature(command).parameters.values()
            if p.name != target
        ]
        params = [*own, CONTEXT, CONFIG_FILE, *(g.parameter for g in generated)]
        taken = {n for p in own for n in _option_names(p)} | {"--config"}
        if clash := taken & {n for g in generated for n in g.names}:
            raise ValueError(f"{command.__name__}: generated flags repeat its own {sorted(clash)}")

        @functools.wraps(command)
        def run(**kwargs: Any) -> R:
            ctx: typer.Context = kwargs.pop("ctx")
            file: Path | None = kwargs.pop("config")
            overrides = {}
            for g in generated:
                value = kwargs.pop(g.param)
                source = ctx.get_parameter_source(g.param)
                if source is not None and source.name in GIVEN:
                    overrides[g.path] = value
            return command(**kwargs, **{target: ConfigRequest(file, overrides)})

        run.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in params} | {"return": None}
        return run

    return decorate
