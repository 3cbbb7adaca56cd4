"""Reading ``params.yaml``: the loader every entry point calls, and its one-line-per-problem error messages.

A bad file gives ``ParamsError`` whose message has one line per problem, naming the key, the bad value and what is
allowed; ``load_or_exit`` prints it and exits with status 2, before the caller has written anything.
"""

from __future__ import annotations

import sys
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from sentence_distill import assets
from sentence_distill.config.checks import INPUT_CHECKS, RELATION_CHECKS
from sentence_distill.config.schema import Params, StudentSpec

DEFAULT_PARAMS_FILE = Path("params.yaml")


class ParamsError(ValueError):
    """A params file that the pipeline cannot run with; the message names the key."""


def _key(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def _lookup(raw: Any, loc: tuple[Any, ...]) -> Any:
    for part in loc:
        if isinstance(raw, dict) and part in raw:
            raw = raw[part]
        elif isinstance(raw, list) and isinstance(part, int) and part < len(raw):
            raw = raw[part]
        else:
            return "<missing>"
    return raw


def _describe(error: dict[str, Any], raw: Any) -> str:
    loc = tuple(error["loc"])
    if error["type"] == "extra_forbidden":
        return f"{_key(loc)}: unknown key (allowed keys: {_allowed(loc[:-1])})"
    if error["type"] == "missing":
        return f"{_key(loc)}: required key is missing"
    value = _lookup(raw, loc)
    return f"{_key(loc)}: {error['msg']} (got {value!r})"


def _allowed(parent: tuple[Any, ...]) -> str:
    model: type[BaseModel] = Params
    for part in parent:
        if isinstance(part, int):
            continue  # an item of a list (evaluate.tasks.0): its model is the list's
        field = model.model_fields.get(str(part))
        if field is None:
            model = StudentSpec  # inside students.<name>
            continue
        for annotation in (field.annotation, *typing.get_args(field.annotation)):  # a section that may be null too
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                model = annotation
    return ", ".join(model.model_fields)


def parse_params(raw: Any, *, check_inputs: bool = True) -> Params:
    """The typed params, or ``ParamsError`` with one line per problem found by the schema, then by the relation
    checks and (``check_inputs``) the checks of the inputs the params name."""
    if not isinstance(raw, dict):
        raise ParamsError(f"(top level): expected a mapping of sections, got {type(raw).__name__}")
    try:
        params = Params.model_validate(raw)
    except ValidationError as exc:
        raise ParamsError("\n".join(_describe(e, raw) for e in exc.errors())) from None
    problems: list[str] = []
    for check in (*RELATION_CHECKS, *(INPUT_CHECKS if check_inputs else ())):
        try:
            problems.extend(check(params))
        except assets.AssetError as exc:  # a check that cannot go on (e.g. no teacher config)
            problems.append(str(exc))
    if problems:
        raise ParamsError("\n".join(problems))
    return params


def load_params(path: Path | str = DEFAULT_PARAMS_FILE, *, check_inputs: bool = True) -> Params:
    """Read and validate a params file (``parse_params``); raise ``ParamsError`` with one line per problem."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path}: params file not found")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ParamsError(
            f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); save the file as UTF-8"
        ) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML: {exc}") from None
    return parse_params(raw, check_inputs=check_inputs)


def load_or_exit(path: Path | str = DEFAULT_PARAMS_FILE, *, check_inputs: bool = True) -> Params:
    """``load_params`` for command-line entry points: a bad file exits with status 2 and writes nothing.

    A stage that does not read the inputs the params name passes ``check_inputs=False``: the ``validate`` stage
    has checked them before it (every stage depends on its output), and checking them again would read the
    parallel-pairs file or the hub at every stage's start.
    """
    try:
        return load_params(path, check_inputs=check_inputs)
    except ParamsError as exc:
        print(f"error: invalid params in {path}:\n{exc}", file=sys.stderr)
        raise SystemExit(2) from None
