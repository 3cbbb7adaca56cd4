"""Typed schema of ``params.yaml``, checked whole before any stage loads a model.

``python -m sentence_distill.config.params [params.yaml]`` validates a file: on an error it prints one line per
problem naming the key, the bad value and what is allowed, and exits with status 2. Beyond the
types, it checks the values against each other and against every input they name: files, folders
and columns exist, models and datasets are local or packaged when the hub cannot be reached,
``max_seq_length`` fits the model, the cron parses, each backend's runtime modules import.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import re
import sys
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sentence_distill import assets
from sentence_distill.paths import DATA_INPUTS, MODEL_INPUTS

DEFAULT_PARAMS_FILE = Path("params.yaml")


class ParamsError(ValueError):
    """A params file that the pipeline cannot run with; the message names the key."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


PositiveInt = Annotated[int, Field(gt=0)]


class ParallelParams(Section):
    """Parallel sentences (a source and its translation) that a ``parallel`` student learns both sides of."""

    file: str = Field(description="A .tsv (header row) or .parquet file under inputs/data/, or a hub dataset id")
    subset: str | None = Field(None, description="A hub dataset's subset (configuration), e.g. en-de; its train split is read")
    source_column: str = "source"
    target_column: str = "target"
    heldout_pairs: PositiveInt = Field(200, description="Pairs set aside, never trained on: translation retrieval and MSE")
    dev_pairs: PositiveInt = Field(
        100, description="Pairs set aside to pick a parallel student's best step on (its translations' MSE to the teacher)"
    )
    max_pairs: PositiveInt | None = Field(None, description="Use at most this many pairs (a seeded sample)")


class PrepareParams(Section):
    stsb: str = Field(description="STS benchmark: hub id, or a folder with sts-{train,dev,test}.csv")
    corpus: str = Field(description="Unlabeled sentences: 'bbc-news', a .txt/.csv/.parquet file, a folder of .txt documents, or a hub dataset id")
    corpus_column: str = "text"
    include_stsb_train: bool | Literal["all"] = Field(
        True,
        description="Add the STSb train sentences (not their scores): true samples them with the corpus; "
        "'all' keeps every one and the corpus fills the rest up to max_sentences",
    )
    max_sentences: PositiveInt | None = None
    heldout_sentences: Annotated[int, Field(ge=0)] = 500
    max_chars: PositiveInt = 2000
    min_chars: PositiveInt = 10
    max_undecodable_share: Annotated[float, Field(ge=0, le=1)] = Field(
        0.01, description="Share of corpus lines that may be skipped as invalid UTF-8 before prepare stops"
    )
    stsb_test_pairs: PositiveInt | None = Field(None, description="Use only the first N STSb dev/test pairs (tiny runs)")
    documents_per_topic: PositiveInt = Field(
        100, description="BBC articles per topic set aside, labelled, for the classification and clustering families; "
        "never distilled on"
    )
    document_chars: PositiveInt = Field(600, description="Characters of an evaluation article kept: its title and first sentences")
    seed: int = 42
    parallel: ParallelParams | None = Field(
        None, description="Parallel data: the teacher embeds the source side, parallel students learn both sides"
    )


class TeacherParams(Section):
    model: str
    batch_size: PositiveInt = 64
    max_seq_length: PositiveInt | None = None
    precision: Literal["float32", "float16"] = "float32"
    shard_rows: PositiveInt = 4096
    dask_workers: Annotated[int, Field(ge=0)] = Field(
        0, description="0 encodes in the stage's process; N > 0 on a local Dask cluster of N worker processes"
    )
    dask_address: str | None = Field(
        None, description="Scheduler address of a running Dask cluster; the DISTILL_DASK_ADDRESS variable overrides it"
    )
    dask_host: str = Field(
        "127.0.0.1", description="Interface the local Dask cluster's scheduler, workers and dashboard listen on"
    )


class DistillOverrides(Section):
    """Training knobs one student sets apart from ``distill`` (fewer layers learn slower)."""

    epochs: Annotated[float, Field(gt=0)] | None = None
    learning_rate: Annotated[float, Field(gt=0)] | None = None
    processes: PositiveInt | None = None


class StudentSpec(Section):
    """One student: some of the teacher's layers (``layers`` or ``num_layers`` + ``strategy``), a smaller ``model``,
    or a ``static`` embedding table."""

    layers: list[Annotated[int, Field(ge=0)]] | None = None
    num_layers: PositiveInt | None = None
    strategy: Literal["spread", "first", "last"] = "spread"
    model: str | None = None
    projection: Literal["pca", "none"] = Field(
        "pca", description="How teacher targets reach a student of another dimension: PCA of the teacher's embeddings"
    )
    static: bool = Field(
        False, description="A static-embedding student: model2vec's distillation of the teacher's vocabulary (a token "
        "table, mean pooling, float32, the teacher's dimension); with train, the table is then refined on the teacher's "
        "embeddings (static tables want a far higher learning rate than transformers: set distill.learning_rate)"
    )
    train: bool = True
    pca: bool = Field(
        True, description="PCA models of this student, one per pca.dims (false: none, as the reference has PCA rows "
        "for its teacher alone; its PCA stages write only a note). Part of the student's spec, so changing it retrains it"
    )
    quantize: bool = Field(
        True, description="int8 copies of this student, one per quantize.backends (false: none). Part of the student's "
        "spec, so changing it retrains it"
    )
    parallel: bool = Field(
        False, description="Train on prepare.parallel's pairs: the student's embeddings of the source and of its "
        "translation both learn the teacher's embedding of the source (MSE), as sentence-transformers' make_multilingual"
    )
    matryoshka_dims: list[PositiveInt] = Field(
        [], description="Train with MatryoshkaLoss around the MSE loss, against teacher targets in their principal axes, so "
        "that the first k dimensions are an embedding on their own; each k gets rows <name>-mrl<k> (truncated, normalized)"
    )
    distill: DistillOverrides = DistillOverrides()

    @model_validator(mode="after")
    def _one_source(self) -> StudentSpec:
        given = [k for k in ("layers", "num_layers", "model") if getattr(self, k) is not None] + (["static"] if self.static else [])
        if len(given) > 1:
            raise ValueError(f"give only one of layers, num_layers, model, static (got {', '.join(given)})")
        if len(set(self.matryoshka_dims)) != len(self.matryoshka_dims):
            raise ValueError(f"matryoshka_dims has duplicates: {self.matryoshka_dims}")
        if self.matryoshka_dims and self.static:
            raise ValueError("matryoshka_dims applies to transformer students, not static ones (their PCA is folded into the table)")
        if self.matryoshka_dims and not self.train:
            raise ValueError("matryoshka_dims needs train: true (the dimensions are made usable by training)")
        if self.parallel and not self.train:
            raise ValueError("parallel needs train: true (a student learns the parallel sentences by training)")
        if self.layers is not None:
            if not self.layers:
                raise ValueError("layers must keep at least one layer")
            if len(set(self.layers)) != len(self.layers):
                raise ValueError(f"layers has duplicates: {self.layers}")
        return self


class DistillParams(Section):
    epochs: Annotated[float, Field(gt=0)] = 1
    max_steps: int = Field(-1, description="Stop after this many steps; -1 runs all epochs")
    batch_size: PositiveInt = 32
    learning_rate: Annotated[float, Field(gt=0)] = 1e-4
    warmup_ratio: Annotated[float, Field(ge=0, lt=1)] = 0.1
    eval_steps: PositiveInt = 100
    seed: int = 42
    processes: PositiveInt = Field(
        1, description="Training processes (DDP through torch.distributed.run: gloo on the CPU, nccl on GPUs); "
        "they share batch_size, each taking batch_size / processes sentences a step"
    )


class PcaParams(Section):
    """No defaults for the fitting keys: ``dvc.yaml`` lists them one by one (so a new dimension reruns
    nothing else), and DVC requires every listed key to be in the file."""

    dims: list[PositiveInt] = Field(description="One PCA model (and its int8 copies) per student and dimension")
    fit_sentences: PositiveInt = Field(description="Training sentences each student encodes to fit its PCA on")
    in_memory_rows: PositiveInt = Field(
        description="Fit on more rows than this with IncrementalPCA, reading the cache in chunks of this size"
    )
    batch_size: PositiveInt = Field(description="Batch size of the student encoding the fitting sentences")
    fit_on: Literal["normalized", "unnormalized"] = Field(
        description="Fit on the unit-length embeddings (whose cosine users compare; the model normalizes before "
        "the projection too) or on the outputs before Normalize"
    )


class QuantizeParams(Section):
    backends: list[Literal["onnx-int8", "openvino-int8", "torch-int8"]] = ["onnx-int8"]
    calibration_sentences: PositiveInt = Field(
        300, description="Corpus sentences OpenVINO's static int8 calibrates its activation ranges on"
    )


BACKEND_MODULES = {  # down to the submodules that run each backend: `optimum` alone proves nothing
    "onnx-int8": ("onnxruntime", "optimum.onnxruntime"),
    "openvino-int8": ("openvino", "nncf", "optimum.intel", "optimum.intel.openvino"),
    "torch-int8": ("torch.ao.quantization",),
}


class EvaluateParams(Section):
    check_sentences: PositiveInt = Field(
        128, description="STSb test sentences each variant encodes itself, to check the shared-body scores"
    )
    batch_size: PositiveInt = 32
    embedding_precisions: list[Literal["int8", "uint8", "binary", "ubinary"]] = ["int8", "uint8", "binary"]
    calibration_sentences: PositiveInt = Field(1000, description="Corpus sentences that set the int8/uint8 ranges")
    classification_shots: list[PositiveInt] = Field(
        [8, 32], min_length=1, description="Labelled articles per topic a few-shot classifier trains on; tested on the rest"
    )
    classification_draws: PositiveInt = Field(10, description="Seeded draws of those articles, averaged")
    clustering_seeds: PositiveInt = Field(3, description="k-means runs (seeds 0..N-1) whose V-measures are averaged")
    retrieval_min_score: Annotated[float, Field(ge=0, le=1)] = Field(
        0.8, description="STSb test pairs scored this or more (of 1; 4 of 5) are paraphrases to retrieve"
    )


class BenchmarkParams(Section):
    """How the benchmark stage times every model: the only place the project measures speed."""

    sentences: PositiveInt = Field(256, description="Half STSb test, half held-out corpus sentences")
    batch_size: PositiveInt = 32
    latency_queries: PositiveInt = Field(32, description="Single-sentence encodes per model and round")
    rounds: PositiveInt = Field(7, description="Interleaved rounds; speed-ups are medians over rounds")
    threads: PositiveInt = Field(2, description="Intra-op threads of torch, ONNX Runtime and OpenVINO alike")
    device: Literal["cpu", "auto"] = Field("cpu", description="auto: fp32 models on CUDA when present")
    seed: int = 42


class ScheduleParams(Section):
    cron: str = Field("0 3 * * *", description="When `python -m flows.serve` runs the pipeline (5-field cron, UTC)")


class ReportParams(Section):
    rank_on: Literal["stsb", "average"] = Field(
        "stsb", description="Quality the Pareto fronts, charts and best student use: STSb test Spearman, "
        "or the average of the four task families' kept shares"
    )
    compare_with_reference: bool = Field(
        False, description="Add the section 'Side by side with the reference': the teacher, pruned students, the "
        "teacher's PCA models and option-1 students matched to sentence-transformers' distillation example "
        "(sentence_distill/report/reference_figures.py)"
    )


class Params(Section):
    prepare: PrepareParams
    teacher: TeacherParams
    students: dict[str, StudentSpec]
    distill: DistillParams = DistillParams()
    pca: PcaParams
    quantize: QuantizeParams = QuantizeParams()
    evaluate: EvaluateParams = EvaluateParams()
    benchmark: BenchmarkParams = BenchmarkParams()
    report: ReportParams = ReportParams()
    schedule: ScheduleParams = ScheduleParams()

    def distill_for(self, student: str) -> DistillParams:
        """The ``distill`` section with the student's own overrides applied."""
        overrides = self.students[student].distill.model_dump(exclude_none=True)
        return self.distill.model_copy(update=overrides)

    def backends_for(self, student: str) -> list[str]:
        """The student's int8 backends: none for a static one, which has no matrix multiplication to quantize,
        or one whose ``quantize`` is false."""
        spec = self.students[student]
        return [] if spec.static or not spec.quantize else list(self.quantize.backends)

    def pca_dims_for(self, student: str) -> list[int]:
        """The student's PCA dimensions: ``pca.dims``, or none when its ``pca`` is false."""
        return list(self.pca.dims) if self.students[student].pca else []

    def no_pca_note(self, student: str) -> str:
        """What a PCA stage of a student without PCA writes in place of its model (DVC needs the outputs)."""
        return f"No PCA model: students.{student}.pca is false.\n"

    def pca_folds_into_table(self, student: str) -> bool:
        """A static student's PCA, fitted on its outputs as they are, becomes its table's rows (``tasks/pca.py``);
        fitted on unit-length embeddings, a ``Normalize`` precedes it and it stays a ``Dense``."""
        return self.students[student].static and self.pca.fit_on == "unnormalized"


STUDENT_NAME = re.compile(r"^[A-Za-z0-9_]+$")  # a DVC key (`students.${key}`), and no '-' of generated labels
RESERVED_NAMES = {"teacher"}  # labels and files of the teacher's own rows (metrics/eval/teacher.json)


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
        field = model.model_fields.get(str(part))
        if field is None:
            model = StudentSpec  # inside students.<name>
            continue
        for annotation in (field.annotation, *typing.get_args(field.annotation)):  # a section that may be null too
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                model = annotation
    return ", ".join(model.model_fields)


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
            yield f"students.{name}: the name {name!r} is reserved for the teacher's own rows and files (choose another)"


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


def check_cron(params: Params) -> Iterator[str]:
    """The schedule as Prefect's own cron parser (croniter) reads it, limited to 5 fields."""
    cron = params.schedule.cron
    fields = cron.split()
    if len(fields) != 5 or not _croniter().is_valid(cron) or any(f.lower() in {"r", "h"} for f in fields):
        yield (
            f"schedule.cron: {cron!r} is not a valid 5-field cron expression "
            "(minute 0-59, hour 0-23, day of month 1-31, month 1-12, day of week 0-6; e.g. '0 3 * * *')"
        )


def _croniter() -> type:
    """The croniter Prefect vendors and validates its CronSchedule with, loaded from its file: importing it
    through ``prefect`` would import Prefect, which takes seconds and creates Prefect's home folder."""
    prefect = importlib.util.find_spec("prefect")
    if prefect is None or prefect.origin is None:
        raise ParamsError("schedule.cron: cannot be checked without Prefect (pip install -c constraints.txt -r requirements.txt)")
    source = Path(prefect.origin).parent / "_vendor" / "croniter" / "croniter.py"
    spec = importlib.util.spec_from_file_location("prefect_vendored_croniter", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.croniter


def check_inputs(params: Params) -> Iterator[str]:
    """The STSb, corpus and parallel references: packaged, local (and non-empty, with the columns), or reachable on the hub."""
    prepare = params.prepare
    for key, ref, kind in (("prepare.stsb", prepare.stsb, "stsb"), ("prepare.corpus", prepare.corpus, "corpus")):
        try:
            assets.check_data_ref(ref, key=key, kind=kind, column=prepare.corpus_column)
        except assets.AssetError as exc:
            yield str(exc)
    if prepare.parallel is not None:
        from sentence_distill.data.parallel_file import ParallelFileError, check_parallel_file

        try:
            check_parallel_file(prepare.parallel)
        except ParallelFileError as exc:
            yield str(exc)


def check_local_inputs(params: Params) -> Iterator[str]:
    """A local file or folder the params name lies under ``inputs/data/`` or ``inputs/models/``: dvc.yaml
    lists those folders as deps of the stages that read them, so DVC reruns a stage when its input changes."""
    refs = [
        ("prepare.corpus", params.prepare.corpus, DATA_INPUTS),
        ("prepare.stsb", params.prepare.stsb, DATA_INPUTS),
        *([("prepare.parallel.file", params.prepare.parallel.file, DATA_INPUTS)] if params.prepare.parallel else []),
        ("teacher.model", params.teacher.model, MODEL_INPUTS),
        *((f"students.{name}.model", spec.model, MODEL_INPUTS) for name, spec in params.students.items() if spec.model),
    ]
    for key, ref, folder in refs:
        path = Path(os.path.abspath(Path(ref).expanduser()))  # symlinks kept: a linked file is fine
        if not path.exists():
            continue  # a packaged or hub name, or a path check_inputs and check_models report as missing
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
            yield f"{key}: {linked[0].relative_to(Path.cwd())} is a symlink to a folder, which DVC does not follow; copy the folder instead"


def check_models(params: Params) -> Iterator[str]:
    """Checks that need the teacher's config (layer count, embedding size, positions); reads no weights."""
    teacher = assets.model_facts(params.teacher.model, key="teacher.model")
    length = params.teacher.max_seq_length
    if length is not None and teacher.max_positions is not None and length > teacher.max_positions:
        yield (
            f"teacher.max_seq_length: {length} is beyond the {teacher.max_positions} positions the teacher "
            f"can embed (allowed 1..{teacher.max_positions}, or null for the model's own limit)"
        )
    for name, spec in params.students.items():
        key = f"students.{name}"
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
                continue
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


CHECKS = (check_students, check_relations, check_training_processes, check_cron, check_inputs, check_local_inputs, check_backends, check_models)


def parse_params(raw: Any) -> Params:
    """The typed params, or ``ParamsError`` with one line per problem found by the schema, then by ``CHECKS``."""
    if not isinstance(raw, dict):
        raise ParamsError(f"(top level): expected a mapping of sections, got {type(raw).__name__}")
    try:
        params = Params.model_validate(raw)
    except ValidationError as exc:
        raise ParamsError("\n".join(_describe(e, raw) for e in exc.errors())) from None
    problems: list[str] = []
    for check in CHECKS:
        try:
            problems.extend(check(params))
        except (ParamsError, assets.AssetError) as exc:  # a check that cannot go on (e.g. no teacher config)
            problems.append(str(exc))
    if problems:
        raise ParamsError("\n".join(problems))
    return params


def load_params(path: Path | str = DEFAULT_PARAMS_FILE) -> Params:
    """Read and fully validate a params file; raise ``ParamsError`` with one line per problem."""
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
    return parse_params(raw)


def load_or_exit(path: Path | str = DEFAULT_PARAMS_FILE) -> Params:
    """``load_params`` for command-line entry points: a bad file exits with status 2 and writes nothing."""
    try:
        return load_params(path)
    except ParamsError as exc:
        print(f"error: invalid params in {path}:\n{exc}", file=sys.stderr)
        raise SystemExit(2) from None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    path = argv[0] if argv else DEFAULT_PARAMS_FILE
    load_or_exit(path)
    print(f"{path}: ok")
    return 0


if __name__ == "__main__":  # run the imported module's main: its ParamsError is the one other modules raise
    from sentence_distill.config.params import main as checked_main

    raise SystemExit(checked_main())
