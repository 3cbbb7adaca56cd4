"""How a record becomes the JSON file a stage writes, and back.

A record's field names are the file's keys, so each key is spelled once, in its record. A field made
with ``omitted_when_none()`` is left out of the file while it is ``None`` (a figure a variant does not
have); any other ``None`` is written as ``null``. Reading is strict: a missing or unknown key is an
error naming the file, so a reader never works on a file an older or newer writer made.
"""

from __future__ import annotations

import json
import types
import typing
from dataclasses import field, fields
from pathlib import Path
from typing import Any, Self

from sentence_distill.fileio import write_json

OMITTED_WHEN_NONE = "omitted_when_none"


def omitted_when_none() -> Any:
    """A field that defaults to ``None`` and is left out of the file while it is ``None``."""
    return field(default=None, metadata={OMITTED_WHEN_NONE: True})


class JsonRecord:
    """Base of every record (a dataclass): ``to_dict``/``write`` give the file, ``from_dict``/``read`` take it."""

    def to_dict(self) -> dict[str, Any]:
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None and f.metadata.get(OMITTED_WHEN_NONE):
                continue
            out[f.name] = plain(value)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        hints = typing.get_type_hints(cls)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise TypeError(f"{cls.__name__} has no field {', '.join(unknown)}")
        return cls(**{key: parsed(hints[key], value) for key, value in data.items()})

    @classmethod
    def read(cls, path: Path) -> Self:
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except (TypeError, ValueError, KeyError) as exc:
            raise ValueError(
                f"{path} is not a {cls.__name__} file ({exc}): rerun the stage that writes it (dvc repro)"
            ) from None

    def write(self, path: Path) -> None:
        write_json(path, self.to_dict())


def plain(value: Any) -> Any:
    """``value`` as JSON holds it: records as dicts, tuples as lists."""
    if isinstance(value, JsonRecord):
        return value.to_dict()
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def parsed(hint: Any, value: Any) -> Any:
    """``value`` read from JSON as the type ``hint`` names: records, and lists, dicts or ``X | None`` of them."""
    if value is None:
        return None
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        return parsed(next(a for a in args if a is not type(None)), value)
    if origin is list:
        return [parsed(args[0], v) for v in value]
    if origin is dict:
        return {k: parsed(args[1], v) for k, v in value.items()}
    if isinstance(hint, type) and issubclass(hint, JsonRecord):
        return hint.from_dict(value)
    return value
