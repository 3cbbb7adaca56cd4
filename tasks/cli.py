"""What every stage's ``python -m tasks.<stage>`` entry point shares: logging and the student argument."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from tasks.params import Params, load_or_exit


def configure_logging() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("tasks").setLevel(logging.INFO)


def run_for_student(stage: str, work: Callable[[str, Params], object], argv: list[str] | None, extra: tuple[str, ...] = ()) -> int:
    """Validate params first, then run ``work(name, params)`` for the student named on the command line."""
    argv = sys.argv[1:] if argv is None else argv
    params = load_or_exit()
    allowed = [*extra, *params.students]
    if len(argv) != 1 or argv[0] not in allowed:
        print(f"usage: python -m tasks.{stage} NAME  (NAME one of: {', '.join(allowed)})", file=sys.stderr)
        return 2
    work(argv[0], params)
    return 0
