"""Checks of a schema-valid ``Params``: its values against each other, and against the inputs they name.

``RELATION_CHECKS`` read nothing but the params: every stage runs them at its start. ``INPUT_CHECKS`` look at what
the values name: the files, folders and columns (the parallel-pairs file and a corpus read whole), the hub when a
name is not packaged, the teacher's config, each backend's runtime modules and Prefect's cron parser. They run in
the ``validate`` stage (before DVC removes any output) and in the stage that reads those inputs (``prepare``), not at
every stage's start. Each check yields one message per problem, naming the key, the value and what is allowed.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from sentence_distill import assets
from sentence_distill.config.recipe import IN_BATCH_TERMS
from sentence_distill.config.schema import OWN_TASKS_MEAN, RANKED_FIGURES, Params
from sentence_distill.data.task_files import TaskFileError, check_held_out, is_local, read_task
from sentence_distill.paths import DATA_INPUTS, FP32, MODEL_INPUTS, TASK_INPUTS

STUDENT_NAME = re.compile(r"^[A-Za-z0-9_]+$")  # a DVC key (`students.${key}`), and no '-' of generated labels
RESERVED_NAMES = {  # a student of one of these names would collide with what they name
    "teacher": "the teacher's own rows and files",
    "selected": "release/selected/, the model the selection picks",
}


def check_students(params: Params) -> Iterator[str]:
    """Student names are DVC keys that cannot collide with the labels and files generated from them."""
    if not params.students:
        yield "students: at least one student is needed"
    for name in params.students:
        if not STUDENT_NAME.match(name):
            yield (
                f"students.{name}: invalid student name {name!r} (allowed: letters, digits and _; "
                "a '.' breaks DVC's students.${key} and '-' is kept for generated labels such as L3-pca128)"
            )
        elif name.lower() in RESERVED_NAMES:
            yield f"students.{name}: the name {name!r} is reserved for {RESERVED_NAMES[name.lower()]} (choose another)"


def check_relations(params: Params) -> Iterator[str]:
    """Values that are valid alone but not together."""
    prepare = params.prepare
    if prepare.min_chars >= prepare.max_chars:
        yield (
            f"prepare.max_chars: {prepare.max_chars} is not above prepare.min_chars={prepare.min_chars} "
            "(allowed: max_chars > min_chars)"
        )
    if prepare.max_sentences is not None and prepare.heldout_sentences >= prepare.max_sentences:
        yield (
            f"prepare.heldout_sentences: {prepare.heldout_sentences} leaves no training sentences "
            f"(must be below prepare.max_sentences={prepare.max_sentences})"
        )
    parallel_students = [name for name, spec in params.students.items() if spec.parallel]
    if parallel_students and prepare.parallel is None:
        yield (
            f"students.{parallel_students[0]}.parallel: true needs prepare.parallel, a file of source sentences and "
            "their translations (allowed: set prepare.parallel.file, or parallel: false)"
        )
    most_shots = max(params.evaluate.classification_shots)
    if most_shots >= prepare.documents_per_topic:
        yield (
            f"evaluate.classification_shots: {most_shots} leaves no article of a topic to test on "
            f"(must be below prepare.documents_per_topic={prepare.documents_per_topic})"
        )
    fit_rows = params.pca.fit_sentences
    if prepare.max_sentences is not None:
        fit_rows = min(fit_rows, prepare.max_sentences - prepare.heldout_sentences)
    with_pca = any(params.pca_dims_for(name) for name in params.students)
    too_big = [dim for dim in params.pca.dims if dim >= fit_rows] if with_pca else []
    if too_big and fit_rows > 0:
        yield (
            f"pca.dims: {too_big[0]} needs more than the at most {fit_rows} fitting sentences "
            "(pca.fit_sentences, prepare.max_sentences minus prepare.heldout_sentences)"
        )


def check_select(params: Params) -> Iterator[str]:
    """The selection rule names a figure every model has, and a backend the run makes."""
    select, choices = params.select, params.rank_choices()
    if select.rank_on not in choices:
        yield f"select.rank_on: {select.rank_on!r} is not a figure to rank on (allowed: {', '.join(choices)})"
    allowed = select.constraints.backends
    made = [FP32, *params.quantize.backends]
    if allowed is not None and not set(allowed) & set(made):
        yield (
            f"select.constraints.backends: {allowed} names no backend this run makes "
            f"(allowed: null or some of {', '.join(made)}; quantize.backends lists the int8 ones)"
        )


def check_own_task_names(params: Params) -> Iterator[str]:
    """An own task's name keys its figures and may be what ``select.rank_on`` names: one task each, none of the
    other figures' names."""
    names = [task.name for task in params.evaluate.tasks]
    for name in sorted({name for name in names if names.count(name) > 1}):
        yield f"evaluate.tasks: the name {name!r} is given to {names.count(name)} tasks (allowed: one task a name)"
    for name in sorted(set(names) & {*RANKED_FIGURES, OWN_TASKS_MEAN}):
        yield f"evaluate.tasks.{name}: the name {name!r} is reserved for the select.rank_on figure (choose another)"


def check_own_tasks(params: Params) -> Iterator[str]:
    """Each own task's files read whole and checked as the evaluate stages read them (``data/task_files.py``), and
    one built from the BBC articles prepare sets aside still set aside."""
    for task in params.evaluate.tasks:
        try:
            read_task(task, params.evaluate.classification_shots)
            check_held_out(task, params.prepare)
        except TaskFileError as exc:
            yield str(exc)


def check_training_processes(params: Params) -> Iterator[str]:
    """Each student's processes share its ``batch_size`` evenly: the effective batch stays ``distill.batch_size``."""
    reported = set()
    for name, spec in params.students.items():
        distill = params.distill_for(name)
        if not spec.train or distill.batch_size % distill.processes == 0:
            continue
        key = f"students.{name}.distill.processes" if spec.distill.processes is not None else "distill.processes"
        if key not in reported:
            reported.add(key)
            divisors = [n for n in range(1, distill.batch_size + 1) if distill.batch_size % n == 0]
            yield (
                f"{key}: {distill.processes} processes cannot share distill.batch_size={distill.batch_size} evenly "
                f"(allowed: a divisor of the batch size, {', '.join(map(str, divisors))})"
            )


def check_in_batch_losses(params: Params) -> Iterator[str]:
    """The relational and contrastive terms compare each sentence with the others of its process's batch: one
    sentence a process leaves nothing to compare (both terms would be 0)."""
    for name, spec in params.students.items():
        distill = params.distill_for(name)
        in_batch = [term for term in IN_BATCH_TERMS if term in distill.loss]
        if spec.train and in_batch and distill.batch_size // distill.processes < 2:
            key = f"students.{name}.distill.loss" if spec.distill.loss is not None else "distill.loss"
            yield (
                f"{key}: {in_batch[0]} compares the sentences of a batch, but a process takes "
                f"{distill.batch_size // distill.processes} a step (distill.batch_size {distill.batch_size} / "
                f"{distill.processes} processes; allowed: 2 or more, or no {' or '.join(IN_BATCH_TERMS)} term)"
            )


def check_cron(params: Params) -> Iterator[str]:
    """The schedule as Prefect's own cron parser (croniter) reads it, limited to 5 fields."""
    cron = params.schedule.cron
    croniter = _prefect_croniter()
    if croniter is None:
        yield "schedule.cron: cannot be checked without Prefect (pip install -c constraints.txt -r requirements.txt)"
        return
    fields = cron.split()
    if len(fields) != 5 or not croniter.is_valid(cron) or any(f.lower() in {"r", "h"} for f in fields):
        yield (
            f"schedule.cron: {cron!r} is not a valid 5-field cron expression "
            "(minute 0-59, hour 0-23, day of month 1-31, month 1-12, day of week 0-6; e.g. '0 3 * * *')"
        )


def _prefect_croniter() -> type | None:
    """The croniter class Prefect validates its CronSchedule with, or None without Prefect.

    The ``croniter`` package is not installed: Prefect vendors its own copy (``prefect/_vendor/croniter``) and
    does not depend on the package. That copy is loaded from its file, because importing it through ``prefect``
    would import Prefect itself, which takes seconds and creates Prefect's home folder.
    """
    prefect = importlib.util.find_spec("prefect")
    if prefect is None or prefect.origin is None:
        return None
    source = Path(prefect.origin).parent / "_vendor" / "croniter" / "croniter.py"
    spec = importlib.util.spec_from_file_location("prefect_vendored_croniter", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.croniter


def check_data_refs(params: Params) -> Iterator[str]:
    """The STSb, corpus and parallel references: packaged, local (and non-empty, with the columns), or reachable
    on the hub."""
    prepare = params.prepare
    for key, ref, kind in (("prepare.stsb", prepare.stsb, "stsb"), ("prepare.corpus", prepare.corpus, "corpus")):
        try:
            assets.check_data_ref(ref, key=key, kind=kind, column=prepare.corpus_column)
        except assets.AssetError as exc:
            yield str(exc)
    if prepare.parallel is not None:
        from sentence_distill.data.parallel_file import ParallelFileError, check_parallel_file  # pyarrow: here only

        try:
            check_parallel_file(prepare.parallel)
        except ParallelFileError as exc:
            yield str(exc)


def check_local_inputs(params: Params) -> Iterator[str]:
    """A local file or folder the params name lies under ``inputs/data/``, ``inputs/models/`` or ``inputs/tasks/``:
    dvc.yaml lists those folders as deps of the stages that read them, so DVC reruns a stage when its input changes."""
    refs = [
        ("prepare.corpus", params.prepare.corpus, DATA_INPUTS),
        ("prepare.stsb", params.prepare.stsb, DATA_INPUTS),
        *([("prepare.parallel.file", params.prepare.parallel.file, DATA_INPUTS)] if params.prepare.parallel else []),
        ("teacher.model", params.teacher.model, MODEL_INPUTS),
        *((f"students.{name}.model", spec.model, MODEL_INPUTS) for name, spec in params.students.items() if spec.model),
        *((f"evaluate.tasks.{t.name}.data", t.data, TASK_INPUTS) for t in params.evaluate.tasks if is_local(t.data)),
    ]
    for key, ref, folder in refs:
        path = Path(os.path.abspath(Path(ref).expanduser()))  # symlinks kept: a linked file is fine
        if not path.exists():
            continue  # a packaged or hub name, or a path check_data_refs and check_models report as missing
        root = Path.cwd() / folder
        if not path.is_relative_to(root) or path == root:
            yield (
                f"{key}: local path {ref!r} is outside {folder}/, where DVC sees when an input changes; "
                f"copy it there (a file may be a symlink) or name a packaged or hub input instead"
            )
            continue
        inside = [path, *(path.rglob("*") if path.is_dir() else ())]
        linked = [p for p in [*path.parents, *inside] if p.is_relative_to(root) and p.is_symlink() and p.is_dir()]
        if linked:
            yield (
                f"{key}: {linked[0].relative_to(Path.cwd())} is a symlink to a folder, which DVC does not follow; "
                "copy the folder instead"
            )


def check_models(params: Params) -> Iterator[str]:
    """Checks that need the teacher's config (layer count, embedding size, positions); reads no weights."""
    teacher = assets.model_facts(params.teacher.model, key="teacher.model")
    length = params.teacher.max_seq_length
    if length is not None and teacher.max_positions is not None and length > teacher.max_positions:
        yield (
            f"teacher.max_seq_length: {length} is beyond the {teacher.max_positions} positions the teacher "
            f"can embed (allowed 1..{teacher.max_positions}, or null for the model's own limit)"
        )
    for name in params.students:
        yield from _check_student_model(params, name, teacher)


def _check_student_model(params: Params, name: str, teacher: assets.ModelFacts) -> Iterator[str]:
    """A student against the teacher's layers and embedding size, and its dimensions against its own size."""
    spec, key = params.students[name], f"students.{name}"
    if spec.layers is not None:
        bad = [i for i in spec.layers if i >= teacher.num_layers]
        if bad:
            yield (
                f"{key}.layers: layer index {bad} is outside the teacher "
                f"(allowed 0..{teacher.num_layers - 1}, the teacher has {teacher.num_layers} layers)"
            )
    if spec.num_layers is not None and spec.num_layers > teacher.num_layers:
        yield f"{key}.num_layers: {spec.num_layers} is more than the teacher's {teacher.num_layers} layers"
    student_dim = teacher.dimension
    if spec.model is not None:
        try:
            student_dim = assets.model_facts(spec.model, key=f"{key}.model").dimension
        except assets.AssetError as exc:
            yield str(exc)
            return
        if student_dim != teacher.dimension and spec.projection == "none":
            yield (
                f"{key}.projection: student dimension {student_dim} differs from the teacher's {teacher.dimension} "
                "and no projection is configured (allowed: 'pca')"
            )
        if student_dim > teacher.dimension:
            yield (
                f"{key}.model: student dimension {student_dim} is above the teacher's {teacher.dimension}; "
                "PCA can only project targets down"
            )
    for dim in spec.matryoshka_dims:
        if dim >= student_dim:
            yield (
                f"{key}.matryoshka_dims: {dim} is not below the embedding size {student_dim} of student '{name}' "
                f"(allowed 1..{student_dim - 1}; the full size is always trained)"
            )
    for dim in params.pca_dims_for(name):
        if dim >= student_dim:
            yield (
                f"pca.dims: {dim} is not below the embedding size {student_dim} of student '{name}' "
                f"(allowed 1..{student_dim - 1})"
            )


BACKEND_MODULES = {  # down to the submodules that run each backend: `optimum` alone proves nothing
    "onnx-int8": ("onnxruntime", "optimum.onnxruntime"),
    "openvino-int8": ("openvino", "nncf", "optimum.intel", "optimum.intel.openvino"),
    "torch-int8": ("torch.ao.quantization",),
}


def check_backends(params: Params) -> Iterator[str]:
    """Each quantization backend's runtime modules import and its runtime can use this CPU."""
    for backend in params.quantize.backends:
        missing = [module for module in BACKEND_MODULES[backend] if not _importable(module)]
        if missing:
            yield (
                f"quantize.backends: {backend} needs {', '.join(missing)}, which is not installed "
                "(pip install -c constraints.txt -r requirements.txt)"
            )
        elif backend == "openvino-int8":
            import openvino

            if "CPU" not in openvino.Core().available_devices:
                yield "quantize.backends: openvino-int8 finds no CPU device that OpenVINO can run on"


def _importable(module: str) -> bool:
    """Whether ``module`` (dotted) is installed, found without importing it or its parents (seconds for optimum)."""
    parts = module.split(".")
    spec = importlib.util.find_spec(parts[0])
    for depth in range(2, len(parts) + 1):
        if spec is None or not spec.submodule_search_locations:
            return False
        spec = importlib.machinery.PathFinder.find_spec(".".join(parts[:depth]), list(spec.submodule_search_locations))
    return spec is not None


Check = Callable[[Params], Iterator[str]]
RELATION_CHECKS: tuple[Check, ...] = (
    check_students,
    check_relations,
    check_select,
    check_own_task_names,
    check_training_processes,
    check_in_batch_losses,
)
INPUT_CHECKS: tuple[Check, ...] = (
    check_cron,
    check_data_refs,
    check_local_inputs,
    check_own_tasks,
    check_backends,
    check_models,
)
