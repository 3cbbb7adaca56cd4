"""Typed schema of ``params.yaml``, checked whole before any stage loads a model.

``python -m tasks.params [params.yaml]`` validates a file: on an error it prints one
message naming the key, the bad value and what is allowed, and exits with status 2.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tasks import assets

DEFAULT_PARAMS_FILE = Path("params.yaml")


class ParamsError(ValueError):
    """A params file that the pipeline cannot run with; the message names the key."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


PositiveInt = Annotated[int, Field(gt=0)]


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
    stsb_test_pairs: PositiveInt | None = Field(None, description="Use only the first N STSb dev/test pairs (tiny runs)")
    seed: int = 42


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


class DistillOverrides(Section):
    """Training knobs one student sets apart from ``distill`` (fewer layers learn slower)."""

    epochs: Annotated[float, Field(gt=0)] | None = None
    learning_rate: Annotated[float, Field(gt=0)] | None = None


class StudentSpec(Section):
    """One student: some of the teacher's layers (``layers`` or ``num_layers`` + ``strategy``) or a smaller ``model``."""

    layers: list[Annotated[int, Field(ge=0)]] | None = None
    num_layers: PositiveInt | None = None
    strategy: Literal["spread", "first", "last"] = "spread"
    model: str | None = None
    projection: Literal["pca", "none"] = Field(
        "pca", description="How teacher targets reach a student of another dimension: PCA of the teacher's embeddings"
    )
    train: bool = True
    distill: DistillOverrides = DistillOverrides()

    @model_validator(mode="after")
    def _one_source(self) -> StudentSpec:
        given = [k for k in ("layers", "num_layers", "model") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(f"give only one of layers, num_layers, model (got {', '.join(given)})")
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


class PcaParams(Section):
    """No defaults for the fitting keys: ``dvc.yaml`` lists them one by one (so a new dimension reruns
    nothing else), and DVC requires every listed key to be in the file."""

    dims: list[PositiveInt] = Field(description="One PCA model (and its int8 copies) per student and dimension")
    fit_sentences: PositiveInt = Field(description="Training sentences each student encodes to fit its PCA on")
    in_memory_rows: PositiveInt = Field(
        description="Fit on more rows than this with IncrementalPCA, reading the cache in chunks of this size"
    )
    batch_size: PositiveInt = Field(description="Batch size of the student encoding the fitting sentences")


class QuantizeParams(Section):
    backends: list[Literal["onnx-int8", "openvino-int8", "torch-int8"]] = ["onnx-int8"]
    calibration_sentences: PositiveInt = Field(
        300, description="Corpus sentences OpenVINO's static int8 calibrates its activation ranges on"
    )


BACKEND_MODULES = {
    "onnx-int8": ("onnxruntime", "optimum.onnxruntime"),
    "openvino-int8": ("openvino", "nncf", "optimum.intel"),
    "torch-int8": ("torch.ao.quantization",),
}


class EvaluateParams(Section):
    check_sentences: PositiveInt = Field(
        128, description="STSb test sentences each variant encodes itself, to check the shared-body scores"
    )
    batch_size: PositiveInt = 32
    embedding_precisions: list[Literal["int8", "uint8", "binary", "ubinary"]] = ["int8", "uint8", "binary"]
    calibration_sentences: PositiveInt = Field(1000, description="Corpus sentences that set the int8/uint8 ranges")


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
    cron: str = Field(
        "0 3 * * *", pattern=r"^\S+( \S+){4}$", description="When `python -m flows.serve` runs the pipeline (5-field cron, UTC)"
    )


class Params(Section):
    prepare: PrepareParams
    teacher: TeacherParams
    students: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")], StudentSpec]
    distill: DistillParams = DistillParams()
    pca: PcaParams
    quantize: QuantizeParams = QuantizeParams()
    evaluate: EvaluateParams = EvaluateParams()
    benchmark: BenchmarkParams = BenchmarkParams()
    schedule: ScheduleParams = ScheduleParams()

    def distill_for(self, student: str) -> DistillParams:
        """The ``distill`` section with the student's own overrides applied."""
        overrides = self.students[student].distill.model_dump(exclude_none=True)
        return self.distill.model_copy(update=overrides)


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
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
    return ", ".join(model.model_fields)


def check_models(params: Params) -> None:
    """Checks that need the teacher's config (layer count, embedding size); reads no weights."""
    teacher = assets.model_facts(params.teacher.model, key="teacher.model")
    for name, spec in params.students.items():
        key = f"students.{name}"
        if spec.layers is not None:
            bad = [i for i in spec.layers if i >= teacher.num_layers]
            if bad:
                raise ParamsError(
                    f"{key}.layers: layer index {bad} is outside the teacher "
                    f"(allowed 0..{teacher.num_layers - 1}, the teacher has {teacher.num_layers} layers)"
                )
        if spec.num_layers is not None and spec.num_layers > teacher.num_layers:
            raise ParamsError(
                f"{key}.num_layers: {spec.num_layers} is more than the teacher's {teacher.num_layers} layers"
            )
        student_dim = teacher.dimension
        if spec.model is not None:
            student_dim = assets.model_facts(spec.model, key=f"{key}.model").dimension
            if student_dim != teacher.dimension and spec.projection == "none":
                raise ParamsError(
                    f"{key}.projection: student dimension {student_dim} differs from the teacher's {teacher.dimension} "
                    "and no projection is configured (allowed: 'pca')"
                )
            if student_dim > teacher.dimension:
                raise ParamsError(
                    f"{key}.model: student dimension {student_dim} is above the teacher's {teacher.dimension}; "
                    "PCA can only project targets down"
                )
        for dim in params.pca.dims:
            if dim >= student_dim:
                raise ParamsError(
                    f"pca.dims: {dim} is not below the embedding size {student_dim} of student '{name}' "
                    f"(allowed 1..{student_dim - 1})"
                )


def parse_params(raw: Any) -> Params:
    if not isinstance(raw, dict):
        raise ParamsError(f"(top level): expected a mapping of sections, got {type(raw).__name__}")
    try:
        params = Params.model_validate(raw)
    except ValidationError as exc:
        raise ParamsError("\n".join(_describe(e, raw) for e in exc.errors())) from None
    if params.prepare.max_sentences is not None and params.prepare.heldout_sentences >= params.prepare.max_sentences:
        raise ParamsError(
            f"prepare.heldout_sentences: {params.prepare.heldout_sentences} leaves no training sentences "
            f"(must be below prepare.max_sentences={params.prepare.max_sentences})"
        )
    if not params.students:
        raise ParamsError("students: at least one student is needed")
    assets.check_data_ref(params.prepare.stsb, key="prepare.stsb", kind="stsb")
    assets.check_data_ref(params.prepare.corpus, key="prepare.corpus", kind="corpus")
    check_backends(params.quantize)
    check_models(params)
    fit_rows = params.pca.fit_sentences
    if params.prepare.max_sentences is not None:
        fit_rows = min(fit_rows, params.prepare.max_sentences - params.prepare.heldout_sentences)
    too_big = [dim for dim in params.pca.dims if dim >= fit_rows]
    if too_big:
        raise ParamsError(
            f"pca.dims: {too_big[0]} needs more than the at most {fit_rows} fitting sentences "
            "(pca.fit_sentences, prepare.max_sentences minus prepare.heldout_sentences)"
        )
    return params


def check_backends(params: QuantizeParams) -> None:
    """Each quantization backend's packages are installed and its runtime can use this CPU."""
    for backend in params.backends:
        missing = [m for m in BACKEND_MODULES[backend] if importlib.util.find_spec(m.split(".")[0]) is None]
        if missing:
            raise ParamsError(
                f"quantize.backends: {backend} needs {', '.join(missing)}, which is not installed "
                "(pip install -c constraints.txt -r requirements.txt)"
            )
        if backend == "openvino-int8":
            import openvino

            if "CPU" not in openvino.Core().available_devices:
                raise ParamsError("quantize.backends: openvino-int8 finds no CPU device that OpenVINO can run on")


def load_params(path: Path | str = DEFAULT_PARAMS_FILE) -> Params:
    """Read and fully validate a params file; raise ``ParamsError`` with one line per problem."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path}: params file not found")
    try:
        raw = yaml.safe_load(path.read_text())
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


if __name__ == "__main__":
    raise SystemExit(main())
