"""The typed schema of ``params.yaml``: each section's keys, their types, ranges and defaults.

Only what a value is, alone or within its own section (a student's one source of layers); how values relate
across sections and whether the inputs they name exist is ``sentence_distill.config.checks``' job, so this module
reads no file and can be imported by any module that needs the types. Numbers are strict (``numbers``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from sentence_distill.config.numbers import Float, Fraction, NonNegativeInt, PositiveFloat, PositiveInt
from sentence_distill.config.recipe import DEFAULT_LOSS, LossWeights, Temperature, TrainingPrecision


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ParallelParams(Section):
    """Parallel sentences (a source and its translation) that a ``parallel`` student learns both sides of."""

    file: str = Field(description="A .tsv (header row) or .parquet file under inputs/data/, or a hub dataset id")
    subset: str | None = Field(
        None, description="A hub dataset's subset (configuration), e.g. en-de; its train split is read"
    )
    source_column: str = "source"
    target_column: str = "target"
    heldout_pairs: PositiveInt = Field(
        200, description="Pairs set aside, never trained on: translation retrieval and MSE"
    )
    dev_pairs: PositiveInt = Field(
        100,
        description="Pairs set aside to pick a parallel student's best step on (its translations' MSE to the teacher)",
    )
    max_pairs: PositiveInt | None = Field(None, description="Use at most this many pairs (a seeded sample)")


class PrepareParams(Section):
    stsb: str = Field(description="STS benchmark: hub id, or a folder with sts-{train,dev,test}.csv")
    corpus: str = Field(
        description="Unlabeled sentences: 'bbc-news', a .txt/.csv/.parquet file, a folder of .txt documents, "
        "or a hub dataset id"
    )
    corpus_column: str = "text"
    include_stsb_train: bool | Literal["all"] = Field(
        True,
        description="Add the STSb train sentences (not their scores): true samples them with the corpus; "
        "'all' keeps every one and the corpus fills the rest up to max_sentences",
    )
    max_sentences: PositiveInt | None = None
    heldout_sentences: NonNegativeInt = 500
    max_chars: PositiveInt = 2000
    min_chars: PositiveInt = 10
    max_undecodable_share: Annotated[Float, Field(ge=0, le=1)] = Field(
        0.01, description="Share of corpus lines that may be skipped as invalid UTF-8 before prepare stops"
    )
    stsb_test_pairs: PositiveInt | None = Field(
        None, description="Use only the first N STSb dev/test pairs (tiny runs)"
    )
    documents_per_topic: PositiveInt = Field(
        100,
        description="BBC articles per topic set aside, labelled, for the classification and clustering families; "
        "never distilled on",
    )
    document_chars: PositiveInt = Field(
        600, description="Characters of an evaluation article kept: its title and first sentences"
    )
    seed: StrictInt = 42
    parallel: ParallelParams | None = Field(
        None, description="Parallel data: the teacher embeds the source side, parallel students learn both sides"
    )


class TeacherParams(Section):
    model: str
    batch_size: PositiveInt = 64
    max_seq_length: PositiveInt | None = None
    precision: Literal["float32", "float16"] = "float32"
    shard_rows: PositiveInt = 4096
    dask_workers: NonNegativeInt = Field(
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

    epochs: PositiveFloat | None = None
    learning_rate: PositiveFloat | None = None
    warmup_ratio: Fraction | None = None
    eval_steps: PositiveInt | None = None  # more epochs: fewer STSb dev scorings (a few seconds each)
    train_sentences: PositiveInt | None = None
    processes: PositiveInt | None = None
    loss: LossWeights | None = None  # replaces distill.loss whole
    contrastive_temperature: Temperature | None = None
    precision: TrainingPrecision | None = None


class StudentSpec(Section):
    """One student: some of the teacher's layers (``layers`` or ``num_layers`` + ``strategy``), a smaller ``model``,
    or a ``static`` embedding table."""

    layers: list[NonNegativeInt] | None = None
    num_layers: PositiveInt | None = None
    strategy: Literal["spread", "first", "last"] = "spread"
    model: str | None = None
    projection: Literal["pca", "none"] = Field(
        "pca", description="How teacher targets reach a student of another dimension: PCA of the teacher's embeddings"
    )
    static: bool = Field(
        False,
        description="A static-embedding student: model2vec's distillation of the teacher's vocabulary (a token "
        "table, mean pooling, float32, the teacher's dimension); with train, the table is then refined on the "
        "teacher's embeddings (static tables want a far higher learning rate than transformers: set "
        "distill.learning_rate)",
    )
    train: bool = True
    pca: bool = Field(
        True,
        description="PCA models of this student, one per pca.dims (false: none, as the reference has PCA rows "
        "for its teacher alone; its PCA stages write only a note). Part of the student's spec, so changing it "
        "retrains it",
    )
    quantize: bool = Field(
        True,
        description="int8 copies of this student, one per quantize.backends (false: none). Part of the student's "
        "spec, so changing it retrains it",
    )
    parallel: bool = Field(
        False,
        description="Train on prepare.parallel's pairs: the student's embeddings of the source and of its "
        "translation both learn the teacher's embedding of the source (MSE), as sentence-transformers' "
        "make_multilingual",
    )
    matryoshka_dims: list[PositiveInt] = Field(
        [],
        description="Train with MatryoshkaLoss around the MSE loss, against teacher targets in their principal "
        "axes, so that the first k dimensions are an embedding on their own; each k gets rows <name>-mrl<k> "
        "(truncated, normalized)",
    )
    distill: DistillOverrides = DistillOverrides()

    @model_validator(mode="after")
    def _one_source(self) -> StudentSpec:
        given = [k for k in ("layers", "num_layers", "model") if getattr(self, k) is not None] + (
            ["static"] if self.static else []
        )
        if len(given) > 1:
            raise ValueError(f"give only one of layers, num_layers, model, static (got {', '.join(given)})")
        if len(set(self.matryoshka_dims)) != len(self.matryoshka_dims):
            raise ValueError(f"matryoshka_dims has duplicates: {self.matryoshka_dims}")
        if self.matryoshka_dims and self.static:
            raise ValueError(
                "matryoshka_dims applies to transformer students, not static ones (their PCA is folded into the table)"
            )
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
    epochs: PositiveFloat = 1
    max_steps: StrictInt = Field(-1, description="Stop after this many steps; -1 runs all epochs")
    batch_size: PositiveInt = 32
    learning_rate: PositiveFloat = 1e-4
    warmup_ratio: Fraction = 0.1
    eval_steps: PositiveInt = 100
    train_sentences: PositiveInt | None = Field(
        None,
        description="Train on the first this many of the corpus's training sentences (or parallel pairs); null: all. "
        "prepare samples the corpus in a seeded order: they are a sample of it, and unless include_stsb_train is "
        "'all', the very sentences a prepare.max_sentences of that many (plus the held-out ones) gives, so one "
        "student can learn from more sentences than another",
    )
    seed: StrictInt = 42
    processes: PositiveInt = Field(
        1,
        description="Training processes (DDP through torch.distributed.run: gloo on the CPU, nccl on GPUs); "
        "they share batch_size, each taking batch_size / processes sentences a step",
    )
    loss: LossWeights = DEFAULT_LOSS
    contrastive_temperature: Temperature = 0.05
    precision: TrainingPrecision = "fp32"


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


RANKED_FIGURES = ("stsb", "average")  # what select.rank_on may name (Params.rank_choices)
OWN_TASKS_MEAN = "own"  # select.rank_on: the mean of the own tasks' kept shares
OWN_TASK_KEYS = {  # each kind of own task and the keys of its own it reads (a BEIR folder's names are fixed)
    "sts": ("sentence1_column", "sentence2_column", "score_column", "score_range"),
    "pair_classification": ("sentence1_column", "sentence2_column", "label_column"),
    "classification": ("text_column", "label_column"),
    "clustering": ("text_column", "label_column"),
    "retrieval": (),
}


class OwnTask(Section):
    """One of the user's own evaluation tasks (docs/own-tasks.md), scored on every model."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_]+$")]
    kind: Literal[tuple(OWN_TASK_KEYS)]
    data: str = Field(
        description="A .tsv, .csv, .jsonl or .parquet file under inputs/tasks/ (retrieval: a BEIR folder of "
        "corpus.jsonl, queries.jsonl, qrels/<split>.tsv), or a hub dataset id"
    )
    split: str = Field("test", description="Retrieval: the qrels file qrels/<split>.tsv; a hub dataset: its split")
    subset: str | None = Field(None, description="A hub dataset's subset (configuration)")
    sentence1_column: str = "sentence1"
    sentence2_column: str = "sentence2"
    score_column: str = "score"
    label_column: str = "label"
    text_column: str = "text"
    score_range: tuple[Float, Float] | None = None  # sts: [lowest, highest], the scores a pair may have

    @model_validator(mode="after")
    def _keys_of_its_kind(self) -> OwnTask:
        own = OWN_TASK_KEYS[self.kind]
        foreign = sorted(k for k in self.model_fields_set if any(k in keys for keys in OWN_TASK_KEYS.values()))
        foreign = [k for k in foreign if k not in own]
        if foreign:
            raise ValueError(
                f"{', '.join(foreign)} does not apply to a {self.kind} task (its keys: "
                f"{', '.join(own) or 'none: a BEIR folder has fixed names'})"
            )
        if self.kind == "sts" and (self.score_range is None or self.score_range[0] >= self.score_range[1]):
            raise ValueError("an sts task needs score_range: [lowest, highest], the scores its pairs may have")
        return self


class EvaluateParams(Section):
    check_sentences: PositiveInt = Field(
        128, description="STSb test sentences each variant encodes itself, to check the shared-body scores"
    )
    batch_size: PositiveInt = 32
    embedding_precisions: list[Literal["int8", "uint8", "binary", "ubinary"]] = ["int8", "uint8", "binary"]
    calibration_sentences: PositiveInt = Field(1000, description="Corpus sentences that set the int8/uint8 ranges")
    classification_shots: list[PositiveInt] = Field(
        [8, 32],
        min_length=1,
        description="Labelled articles per topic a few-shot classifier trains on; tested on the rest",
    )
    classification_draws: PositiveInt = Field(10, description="Seeded draws of those articles, averaged")
    clustering_seeds: PositiveInt = Field(10, description="k-means runs (seeds 0..N-1) whose V-measures are averaged")
    retrieval_min_score: Annotated[Float, Field(ge=0, le=1)] = Field(
        0.8, description="STSb test pairs scored this or more (of 1; 4 of 5) are paraphrases to retrieve"
    )
    tasks: list[OwnTask] = Field([], description="Your own evaluation tasks, scored on every model (docs/own-tasks.md)")


class BenchmarkParams(Section):
    """How the benchmark stage times every model: the only place the project measures speed."""

    sentences: PositiveInt = Field(256, description="Half STSb test, half held-out corpus sentences")
    batch_size: PositiveInt = 32
    latency_queries: PositiveInt = Field(32, description="Single-sentence encodes per model and round")
    rounds: PositiveInt = Field(7, description="Interleaved rounds; speed-ups are medians over rounds")
    min_seconds: PositiveFloat = Field(
        0.2,
        description="Least seconds one timing of a model's throughput takes: the warm-up finds how many encodes "
        "in a row take that long (autorange), so fast models are timed over enough work",
    )
    threads: PositiveInt = Field(2, description="Intra-op threads of torch, ONNX Runtime and OpenVINO alike")
    device: Literal["cpu", "auto"] = Field("cpu", description="auto: fp32 models on CUDA when present")
    seed: StrictInt = 42


class ScheduleParams(Section):
    cron: str = Field("0 3 * * *", description="When `python -m flows.serve` runs the pipeline (5-field cron, UTC)")


class ReportParams(Section):
    compare_with_reference: bool = Field(
        False,
        description="Add the section 'Side by side with the reference': the teacher, pruned students, the "
        "teacher's PCA models and option-1 students matched to sentence-transformers' distillation example "
        "(sentence_distill/report/reference_figures.py)",
    )


BACKENDS = ("fp32", "onnx-int8", "openvino-int8", "torch-int8")  # what a model runs as: its float32 weights or int8


class SelectConstraints(Section):
    """Limits a selected model must keep; ``null`` is no limit."""

    max_latency_p95_ms: PositiveFloat | None = Field(
        None, description="Batch-1 latency, 95th percentile over the benchmark's single-sentence encodes, in ms"
    )
    max_size_mb: PositiveFloat | None = Field(
        None, description="The model's files on disk, in MB (10^6 bytes), as the report's size column"
    )
    max_bytes_per_embedding: PositiveInt | None = Field(
        None, description="What one stored embedding takes as the model outputs it (float32: 4 bytes a dimension)"
    )
    backends: Annotated[list[Literal[BACKENDS]], Field(min_length=1)] | None = Field(
        None, description="What the model may run as: fp32, onnx-int8, openvino-int8, torch-int8; null: any"
    )


class SelectParams(Section):
    """The rule that picks the one model to ship (``metrics/selected.json``, ``release/selected/``)."""

    rank_on: str = Field(
        "stsb",
        description="The figure models are ranked on: stsb (STSb test Spearman), average (the mean of the four "
        "task families' kept shares), an own task's name (its headline figure) or own (the mean of the own tasks' "
        "kept shares); also the quality of the report's fronts, charts and best student",
    )
    floor: Annotated[Float, Field(gt=0, le=1)] = Field(
        0.97, description="The share of the teacher's rank_on figure a model must keep"
    )
    constraints: SelectConstraints = SelectConstraints()
    objective: Literal["fastest", "smallest"] = Field(
        "fastest",
        description="fastest: the highest speed-up over the teacher (within the measured spread, the higher "
        "score); smallest: the fewest bytes on disk",
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
    select: SelectParams = SelectParams()
    schedule: ScheduleParams = ScheduleParams()

    def rank_choices(self) -> list[str]:
        """What ``select.rank_on`` may name: the figures every model is scored on. With own tasks, also each
        task's name (its headline figure) and ``own`` (the mean of their kept shares)."""
        tasks = [task.name for task in self.evaluate.tasks]
        return [*RANKED_FIGURES, *tasks, *([OWN_TASKS_MEAN] if tasks else [])]

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
