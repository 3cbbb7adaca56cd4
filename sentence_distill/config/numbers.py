"""The number types of params: strict, because YAML reads ``yes``, ``on`` and ``true`` as booleans, and a lax integer
field would take a boolean as 1 (``teacher.batch_size: yes`` would run at batch size 1). An integer field takes
integers only; a float field takes integers and numbers written as text (PyYAML reads ``1e-4``, without a dot, as
text), but no boolean.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, StrictInt
from pydantic_core import PydanticCustomError


def _not_a_boolean(value: Any) -> Any:
    if isinstance(value, bool):
        raise PydanticCustomError("float_type", "Input should be a valid number, not a boolean")
    return value


Float = Annotated[float, BeforeValidator(_not_a_boolean)]
PositiveInt = Annotated[StrictInt, Field(gt=0)]
NonNegativeInt = Annotated[StrictInt, Field(ge=0)]
PositiveFloat = Annotated[Float, Field(gt=0)]
Fraction = Annotated[Float, Field(ge=0, lt=1)]  # a share of something, below all of it (distill.warmup_ratio)
