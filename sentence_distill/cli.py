"""What every stage's ``python -m tasks.<stage>`` entry point shares: logging, the target arguments, and one
clear line, not a traceback, when the stage runs before the stage that writes its input."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable
from pathlib import Path

import yaml

from sentence_distill.config.load import load_or_exit
from sentence_distill.config.schema import Params
from sentence_distill.integrity import DamagedOutputError

PIPELINE_FILE = Path("dvc.yaml")
STAGE_OUTPUT_FOLDERS = ("data", "models", "metrics")  # what the stages write; inputs/ holds the user's files
# ${key} or ${item.dim} in a dvc.yaml path, as re.escape writes it; a student name or a dimension stands there
# (letters, digits and _, never the '-' of generated labels such as L3-pca128)
PLACEHOLDER = re.compile(r"\\\$\\\{(?:item\\\.)?(\w+)\\\}")


def configure_logging() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name in ("tasks", "sentence_distill"):
        logging.getLogger(name).setLevel(logging.INFO)


def stage_main(main: Callable[[list[str]], int], *, messages: tuple[type[Exception], ...] = ()) -> int:
    """Run a stage's ``main`` with the command line's arguments, as ``python -m tasks.<stage>`` does.

    A file that an upstream stage writes and that is missing (the stage was run before its upstream, e.g. on a
    fresh clone) ends the stage with one line naming the file and the ``dvc repro`` that writes it, and exit
    status 2: the libraries raise that error deep in a stack whose traceback would hide the line. The stage's
    own ``messages`` (exceptions whose text tells the user what to do) end it the same way.
    """
    configure_logging()
    try:
        return main(sys.argv[1:])
    except FileNotFoundError as exc:
        missing = missing_stage_output(exc)
        if missing is None:
            raise
        print(
            f"error: {missing} is missing: run the stage that writes it first ({repro_command(missing)})",
            file=sys.stderr,
        )
    except (DamagedOutputError, *messages) as exc:  # a model file not as dvc.lock recorded: its name, the way out
        print(f"error: {exc}", file=sys.stderr)
    return 2


def missing_stage_output(exc: FileNotFoundError) -> str | None:
    """The missing path under data/, models/ or metrics/ that ``exc`` names (its filename, or a word of its message
    for the libraries that raise it with a message only), relative to the project; None for any other path."""
    words = [exc.filename] if exc.filename else str(exc).split()
    for word in words:
        path = Path(str(word).lstrip("'\"(").rstrip("'\"),;:."))
        if path.is_absolute():
            if not path.is_relative_to(Path.cwd()):
                continue
            path = path.relative_to(Path.cwd())
        if path.parts and path.parts[0] in STAGE_OUTPUT_FOLDERS and not path.exists():
            return path.as_posix()
    return None


def repro_command(path: str, pipeline_file: Path = PIPELINE_FILE) -> str:
    """``dvc repro <stage>`` for the stage of ``dvc.yaml`` that writes ``path`` (or the folder it lies in); that
    command runs the stages upstream of it too. A ``foreach`` or ``matrix`` stage is named as DVC names it
    (``student@L3``, ``pca@L3-128``)."""
    stages = yaml.safe_load(pipeline_file.read_text()).get("stages", {}) if pipeline_file.is_file() else {}
    for name, stage in stages.items():
        body = stage.get("do", stage)
        for entry in (out for kind in ("outs", "metrics", "plots") for out in body.get(kind, [])):
            out = next(iter(entry)) if isinstance(entry, dict) else entry
            match = re.fullmatch(PLACEHOLDER.sub(r"(?P<\1>[A-Za-z0-9_]+)", re.escape(out)) + r"(?:/.*)?", path)
            if match is None:
                continue
            keys = list(stage["matrix"]) if "matrix" in stage else ["key"] if "foreach" in stage else []
            return f"dvc repro {name}" + (f"@{'-'.join(match[key] for key in keys)}" if keys else "")
    return "dvc repro"


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
    The inputs the params name are not checked again: the ``validate`` stage before it has.
    """
    argv = sys.argv[1:] if argv is None else argv
    params = load_or_exit(check_inputs=False)
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
