"""What every stage's ``python -m tasks.<stage>`` entry point shares: logging and the target arguments."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from sentence_distill.config.params import Params, load_or_exit


def configure_logging() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("tasks").setLevel(logging.INFO)


def run_for_student(
    stage: str,
    argv: list[str] | None,
    *,
    student: Callable[[str, Params], object] | None = None,
    dimension: Callable[[str, int, Params], object] | None = None,
    extra: tuple[str, ...] = (),
) -> int:
    """Validate params first, then run the work for the target on the command line.

    ``NAME`` runs ``student(name, params)``; ``NAME DIM`` runs ``dimension(name, dim, params)`` for
    one of the student's PCA dimensions. ``extra`` names targets that are not students (the teacher).
    """
    argv = sys.argv[1:] if argv is None else argv
    params = load_or_exit()
    names = [*extra, *params.students]
    dims = [str(d) for d in params.pca.dims]
    if student is not None and len(argv) == 1 and argv[0] in names:
        student(argv[0], params)
        return 0
    if dimension is not None and len(argv) == 2 and argv[0] in params.students and argv[1] in dims:
        dimension(argv[0], int(argv[1]), params)
        return 0
    forms = [form for form, work in (("NAME", student), ("NAME DIM", dimension)) if work is not None]
    print(
        f"usage: python -m tasks.{stage} {' | '.join(forms)}  (NAME one of: {', '.join(names)}"
        + (f"; DIM one of pca.dims: {', '.join(dims) or 'none'}" if dimension else "")
        + ")",
        file=sys.stderr,
    )
    return 2
