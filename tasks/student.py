"""Students: build one (keep some of the teacher's layers, or take a smaller model) and distill it with MSE.

Reads ``params.students.<name>``, ``params.distill`` (with the student's own ``distill`` overrides),
``params.teacher.model``, the prepared corpus (a ``parallel`` student: the parallel pairs instead) and the
teacher's targets from the embedding cache (never re-encoded). Writes the best checkpoint by STSb dev Spearman
(a parallel student's: by its dev translations' MSE) to ``models/<name>/student`` and ``metrics/students/<name>.json``, and the training curves (loss, STSb dev Spearman, held-out
MSE by step) with DVCLive to ``metrics/students/<name>/training``. Training checkpoints live in
``.work/checkpoints/<name>`` so a killed run resumes from its last complete one; they are kept only
for a run with the same inputs (training data, STSb dev, teacher targets, student, distill params,
training code) and removed once the model is saved.

With ``distill.processes`` N > 1 the stage runs its training again under torch's launcher
(``python -m torch.distributed.run``, N workers on 127.0.0.1): DDP, gloo on the CPU and nccl on
GPUs, each worker taking ``batch_size / N`` sentences a step, so a step still sees ``batch_size``.
The stage's own process prepares the checkpoints and waits; the first worker evaluates and writes
every output.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path

import datasets
import numpy as np
import psutil
import pyarrow as pa
import torch
import torch.distributed as dist
from dvclive import Live
from filelock import FileLock
from safetensors import SafetensorError, safe_open
from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from sentence_transformers.sentence_transformer.evaluation import MSEEvaluator, SequentialEvaluator
from sentence_transformers.sentence_transformer.losses import MatryoshkaLoss, MSELoss
from sentence_transformers.sentence_transformer.modules import Dense, Normalize, StaticEmbedding
from sklearn.decomposition import PCA
from transformers import TrainerCallback, set_seed

from sentence_distill import assets
from sentence_distill.cli import configure_logging, run_for_student
from sentence_distill.data.corpus import corpus_sentences, parallel_pairs, stsb_evaluator
from sentence_distill.fileio import atomic_dir, write_json
from sentence_distill.models import describe_model, load_model, open_teacher_cache
from sentence_distill.config.params import DistillParams, Params, StudentSpec
from sentence_distill.paths import CHECKPOINTS_DIR, PARALLEL_FILE, PREPARED_DIR, STATIC_TABLES_DIR, student_dir, student_metrics_file, training_log_dir

log = logging.getLogger(__name__)

DEV_METRIC = "eval_sts-dev_spearman_cosine"
HELDOUT_METRIC = "eval_heldout_negative_mse"  # MSEEvaluator: minus the MSE to the teacher's targets, times 100
PARALLEL_DEV_METRIC = "eval_parallel-dev_negative_mse"  # a parallel student's dev translations against their sources' targets
# The trainer's log keys the training curves keep, by their DVCLive names (plots/metrics/<name>.tsv).
# Not its timings (eval_runtime, train_runtime, ..._per_second): they differ on every run.
CURVES = {
    "loss": "train/loss",
    "learning_rate": "train/learning_rate",
    "grad_norm": "train/grad_norm",
    DEV_METRIC: "eval/stsb_dev_spearman",
    HELDOUT_METRIC: "eval/heldout_mse",
    PARALLEL_DEV_METRIC: "eval/parallel_dev_mse",
}
TRAINING_DATA = ("corpus.parquet", "stsb_dev.parquet", PARALLEL_FILE)  # what training reads from the prepared data
CHECKPOINT_ARCHIVES = ("optimizer.pt", "scheduler.pt")  # torch.save zip files the trainer resumes from, and its RNG states
STAGE_PID = "DISTILL_STAGE_PID"  # set for the workers: the stage process that launched them


def kept_layers(spec: StudentSpec, teacher_layers: int) -> list[int]:
    """Indices of the teacher layers a pruned student keeps, in order."""
    if spec.layers is not None:
        return list(spec.layers)
    count = spec.num_layers or teacher_layers
    if spec.strategy == "first":
        return list(range(count))
    if spec.strategy == "last":
        return list(range(teacher_layers - count, teacher_layers))
    return sorted({round(i * (teacher_layers - 1) / max(count - 1, 1)) for i in range(count)}) if count > 1 else [0]


def layer_stack(encoder: torch.nn.Module, num_layers: int) -> tuple[torch.nn.Module, str]:
    """The (parent, attribute) holding the encoder's transformer layers, found by shape not by name.

    BERT, RoBERTa and MPNet keep them in ``encoder.layer``, DistilBERT in ``transformer.layer``;
    searching for the one ModuleList of ``num_hidden_layers`` blocks works for all of them.
    """
    candidates = [
        (parent, attr)
        for _, parent in encoder.named_modules()
        for attr, child in parent.named_children()
        if isinstance(child, torch.nn.ModuleList) and len(child) == num_layers
    ]
    if len(candidates) != 1:
        raise ValueError(f"cannot find the layer stack of {type(encoder).__name__}: {len(candidates)} candidates")
    return candidates[0]


def prune_layers(model: SentenceTransformer, keep: list[int]) -> SentenceTransformer:
    """Keep only the listed transformer layers, and record the count in the config so a reload agrees."""
    encoder = model[0].auto_model
    parent, attr = layer_stack(encoder, encoder.config.num_hidden_layers)
    layers = getattr(parent, attr)
    setattr(parent, attr, torch.nn.ModuleList([layers[i] for i in keep]))
    encoder.config.num_hidden_layers = len(keep)
    return model


STATIC_DISTILLATION = {"pca_dims": None, "quantize_to": "float32"}  # the teacher's dimension, float32 weights


def static_table(teacher_ref: str, teacher_fingerprint: str) -> Path:
    """model2vec's distillation of the teacher (every vocabulary token embedded by it), made once per teacher's
    files (the embedding cache's fingerprint of them), model2vec version and options: a plain and a refined
    static student share it, and a teacher of mpnet's size takes minutes to distil."""
    key = {"teacher": teacher_fingerprint, "model2vec": importlib.metadata.version("model2vec"), **STATIC_DISTILLATION}
    folder = STATIC_TABLES_DIR / hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{folder}.lock"):  # two static students at once (--jobs 2): one distils, the other waits
        if folder.is_dir():
            log.info("static table of %s from %s", teacher_ref, folder)
        else:
            device = "cuda" if torch.cuda.is_available() else "cpu"
            table = StaticEmbedding.from_distillation(assets.resolve_model(teacher_ref), device=device, **STATIC_DISTILLATION)
            with atomic_dir(folder) as tmp:
                table.save(str(tmp))
    return folder


def static_student(teacher_ref: str, teacher_fingerprint: str) -> SentenceTransformer:
    """The distilled table, mean-pooled, then ``Normalize`` as the teacher's own embeddings are."""
    table = StaticEmbedding.load(str(static_table(teacher_ref, teacher_fingerprint)))
    return SentenceTransformer(modules=[table, Normalize()])  # sentence-transformers' default device, as load_model


def build_student(spec: StudentSpec, teacher_ref: str, teacher_fingerprint: str) -> tuple[SentenceTransformer, dict]:
    if spec.static:
        return static_student(teacher_ref, teacher_fingerprint), {"source": teacher_ref, "layers": 0, "static": True}
    if spec.model is not None:
        model = load_model(spec.model)
        return model, {"source": spec.model, "layers": model[0].auto_model.config.num_hidden_layers}
    model = load_model(teacher_ref)
    teacher_layers = model[0].auto_model.config.num_hidden_layers
    keep = kept_layers(spec, teacher_layers)
    prune_layers(model, keep)
    return model, {"source": teacher_ref, "layers": len(keep), "kept_layers": keep}


def project_targets(train: np.ndarray, others: list[np.ndarray], dimension: int, seed: int) -> list[np.ndarray]:
    """Project teacher targets to the student's size with PCA, as the reference's bias-free Dense on the teacher."""
    pca = PCA(n_components=dimension, random_state=seed).fit(train)
    return [x @ pca.components_.T.astype(np.float32) for x in [train, *others]]


def principal_axes(train: np.ndarray, dimension: int) -> tuple[np.ndarray, np.ndarray]:
    """The mean of the teacher's training embeddings and their first ``dimension`` principal axes (columns):
    a Matryoshka student's targets are the teacher's embeddings in these axes, so that their first k
    coordinates are the teacher's own k-dimension PCA (its coordinates as they come would keep k arbitrary
    ones). Centred, as the pipeline's PCA models are.

    The eigenvectors of the scatter matrix by decreasing variance: a whole basis even with fewer
    sentences than dimensions, where a PCA has fewer components.
    """
    mean = train.mean(axis=0, dtype=np.float64)
    centred = train - mean
    variances, vectors = np.linalg.eigh(centred.T @ centred)
    return mean, vectors[:, np.argsort(variances)[::-1][:dimension]]


def in_axes(vectors: np.ndarray, mean: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """``vectors`` centred, in the coordinates of ``axes``, unit length (float32)."""
    rotated = (vectors - mean) @ axes
    return (rotated / np.linalg.norm(rotated, axis=1, keepdims=True)).astype(np.float32)


def with_rotation(student: SentenceTransformer, mean: np.ndarray, axes: np.ndarray) -> SentenceTransformer:
    """A Matryoshka student: its own modules, then a ``Dense`` that starts as the targets' centring and rotation,
    then ``Normalize``. A student keeping the teacher's layers starts out close to the rotated targets, as a plain
    student to the plain ones; without the layer its last transformer layer would have to learn the rotation.
    A student of another dimension, whose outputs are not the teacher's, starts from the identity."""
    dimension = student.get_embedding_dimension()
    if axes.shape[0] == dimension:
        weight = torch.tensor(axes.T, dtype=torch.float32)
        bias = -weight @ torch.tensor(mean, dtype=torch.float32)
    else:
        weight, bias = torch.eye(dimension), torch.zeros(dimension)
    dense = Dense(dimension, dimension, bias=True, activation_function=torch.nn.Identity(), init_weight=weight, init_bias=bias)
    modules = list(student) if isinstance(list(student)[-1], Normalize) else [*student, Normalize()]
    return SentenceTransformer(modules=[*modules, dense, Normalize()], device=str(student.device))


class CachedMSEEvaluator(MSEEvaluator):
    """``MSEEvaluator`` whose teacher side comes from the embedding cache instead of encoding again."""

    def __init__(self, sentences: list[str], teacher_embeddings: np.ndarray, **kwargs) -> None:
        self._teacher_embeddings = teacher_embeddings
        super().__init__(source_sentences=sentences, target_sentences=sentences, teacher_model=None, **kwargs)

    def embed_inputs(self, model, sentences, **kwargs):
        if model is None:
            return self._teacher_embeddings
        return super().embed_inputs(model, sentences, **kwargs)


class RankZeroEvaluator(SequentialEvaluator):
    """``SequentialEvaluator`` that, under DDP, runs on the first process only and gives its scores to the others.

    Every process then logs the same figures and picks the same best checkpoint, the evaluators' CSV
    files have one writer, and the evaluation runs once, with the threads of all the processes (the
    others wait in the broadcast), not once per process. Outside DDP it is a ``SequentialEvaluator``.
    """

    def __init__(self, evaluators: list) -> None:
        super().__init__(evaluators)
        self.primary_metric = "sequential_score"

    def __call__(self, model, output_path=None, epoch=-1, steps=-1) -> dict[str, float]:
        if not dist.is_initialized():
            return super().__call__(model, output_path, epoch, steps)
        scores: list[dict | None] = [None]
        if dist.get_rank() == 0:
            threads = torch.get_num_threads()
            torch.set_num_threads(threads * dist.get_world_size())
            try:
                scores = [super().__call__(model, output_path, epoch, steps)]
            finally:
                torch.set_num_threads(threads)
        dist.broadcast_object_list(scores, src=0)
        return scores[0]


class TrainingCurves(TrainerCallback):
    """Records the trainer's logs with DVCLive in ``folder``: one row per logging or evaluation step,
    at the trainer's global step, in ``plots/metrics/{train,eval}/<name>.tsv``; ``metrics.json``
    holds the last values.

    DVCLive is only a writer of files here: no ``dvc.yaml`` of its own (the project's declares the
    folder), no experiment saved, no report, no Studio, no ``next_step``/``end`` (their VS Code signal
    files). Every run starts the folder afresh; a resumed run first writes the logs its checkpoint
    holds (``state.log_history``), so its curves are an uninterrupted run's: the steps the killed run
    logged after that checkpoint are logged again once, the ones before it are kept.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.live: Live | None = None

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        self.live = open_training_log(self.folder)
        for entry in state.log_history:
            self._record(entry["step"], entry)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.live is not None:
            self._record(state.global_step, logs or {})

    def _record(self, step: int, logs: dict) -> None:
        values = {name: float(logs[key]) for key, name in CURVES.items() if key in logs}
        if not values:
            return
        for name in ("eval/heldout_mse", "eval/parallel_dev_mse"):
            if name in values:
                values[name] = -values[name]
        self.live.step = step
        for name, value in values.items():
            self.live.log_metric(name, value)
        self.live.make_summary()


def open_training_log(folder: Path) -> Live:
    """A DVCLive logger writing to an emptied ``folder`` and nowhere else."""
    shutil.rmtree(folder, ignore_errors=True)
    os.environ["DVC_STUDIO_OFFLINE"] = "true"  # else DVCLive posts to DVC Studio when a token is configured
    live = Live(dir=str(folder), resume=False, report=None, dvcyaml=None, save_dvc_exp=False, monitor_system=False)
    Path(live.plots_dir, "metrics").mkdir(parents=True, exist_ok=True)  # the declared plots folder, even with nothing logged
    return live


def untrained_training_log(folder: Path) -> None:
    """A student that is not trained: every series with its header and no rows, and an empty ``metrics.json``.

    Header-only files, not an empty folder: git keeps no empty folder, so a clone would miss the
    declared plots output and `dvc status` there would not be clean; `dvc plots show` draws them empty.
    """
    live = open_training_log(folder)
    live.make_summary()
    for key, series in CURVES.items():
        if key == PARALLEL_DEV_METRIC:  # only a parallel student has it, and it is always trained
            continue
        path = Path(live.plots_dir, "metrics", f"{series}.tsv")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"step\t{Path(series).name}\n")


def project_sources(module: str) -> list[Path]:
    """Source files of ``module`` and of every project module it imports, directly or through another."""
    found: dict[str, Path] = {}
    pending = [module]
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found[name] = path = Path(importlib.util.find_spec(name).origin)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "tasks":
                pending += [f"tasks.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tasks."):
                pending.append(node.module)
            elif isinstance(node, ast.Import):
                pending += [alias.name for alias in node.names if alias.name.startswith("tasks.")]
    return sorted(found.values())


def training_run_key(name: str, spec: StudentSpec, params: DistillParams, teacher_ref: str, teacher_fingerprint: str) -> str:
    """Hash of everything the trained model depends on: the training, held-out and STSb dev data, the
    teacher and its targets, the student, the distill params and the training code.

    ``distill.processes`` among them: it changes the results (each process draws its own dropout
    masks, an epoch drops its last incomplete batch) and the RNG files a checkpoint holds."""
    digest = hashlib.sha256(
        json.dumps([name, spec.model_dump(), params.model_dump(), teacher_ref, teacher_fingerprint]).encode()
    )
    for path in [*(PREPARED_DIR / file for file in TRAINING_DATA), *project_sources("tasks.student")]:
        digest.update(path.read_bytes() if path.is_file() else b"absent")  # the parallel pairs are optional
    return digest.hexdigest()


def is_complete_checkpoint(folder: Path, processes: int = 1) -> bool:
    """Whether the trainer finished writing ``folder``: its state parses, weights and archives are whole.

    Under DDP each of the ``processes`` writes its own RNG state (``rng_state_<rank>.pth``), the first
    one the rest, and no process waits for the others: any of them may be the one cut short.
    """
    rng_states = ["rng_state.pth"] if processes == 1 else [f"rng_state_{rank}.pth" for rank in range(processes)]
    try:
        json.loads((folder / "trainer_state.json").read_text())
        with safe_open(str(folder / "model.safetensors"), framework="pt"):
            pass
        for name in [*CHECKPOINT_ARCHIVES, *rng_states]:
            zipfile.ZipFile(folder / name).close()  # a truncated file has no central directory
    except (OSError, ValueError, SafetensorError, zipfile.BadZipFile):
        return False
    return True


def last_complete_checkpoint(folder: Path, processes: int = 1) -> Path | None:
    """The newest checkpoint in ``folder`` that is complete; newer, half-written ones are removed."""
    numbered = [p for p in folder.glob("checkpoint-*") if p.name.removeprefix("checkpoint-").isdigit()]
    for checkpoint in sorted(numbered, key=lambda p: int(p.name.removeprefix("checkpoint-")), reverse=True):
        if is_complete_checkpoint(checkpoint, processes):
            return checkpoint
        log.warning("%s is incomplete (a run was killed while writing it): removed", checkpoint)
        shutil.rmtree(checkpoint)
    if numbered:
        log.warning("no complete checkpoint in %s: training starts from step 0", folder)
    return None


def prepare_checkpoints(folder: Path, run_key: str, processes: int, worker: bool) -> Path | None:
    """The checkpoint to resume from. Checkpoints are reused only by a run with the same inputs (anything
    else starts clean) and half-written ones are removed, by the stage's own process: its workers find
    the folder ready and only read it, as two processes removing files at once would race."""
    marker = folder / "run_key.txt"
    if worker:
        if not marker.is_file() or marker.read_text() != run_key:
            raise RuntimeError(
                f"{folder} was not prepared for this run: start the training with `python -m tasks.student NAME`, "
                "which launches its own workers"
            )
    else:
        if folder.exists() and (not marker.is_file() or marker.read_text() != run_key):
            shutil.rmtree(folder)
        folder.mkdir(parents=True, exist_ok=True)
        marker.write_text(run_key)
    return last_complete_checkpoint(folder, processes)


def worker_rank(processes: int) -> int | None:
    """This process's rank when it is one of the workers ``run_workers`` launched, else None."""
    if STAGE_PID not in os.environ:
        return None
    if os.environ.get("WORLD_SIZE") != str(processes):
        raise RuntimeError(
            f"this training worker is one of {os.environ.get('WORLD_SIZE')} processes, and distill.processes is "
            f"{processes}: start the training with `python -m tasks.student NAME`, which launches its own workers"
        )
    return int(os.environ["RANK"])


def end_with_the_launcher() -> None:
    """Make the kernel kill this worker when its parent, torch's launcher, dies (Linux).

    The launcher starts each worker in a session of its own, so a SIGKILL of the stage's process group
    (which reaches the stage and the launcher, and leaves the launcher no chance to stop its workers)
    would leave the workers training on, writing checkpoints beside the run that resumes them. A worker
    whose stage is already gone when it gets here exits at once.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if not psutil.pid_exists(int(os.environ[STAGE_PID])):
        raise SystemExit("the stage that launched this training worker has ended")


def loopback_interface() -> str:
    """The network interface holding 127.0.0.1, where the workers' gloo and nccl sockets listen."""
    for interface, addresses in psutil.net_if_addrs().items():
        if any(address.address == "127.0.0.1" for address in addresses):
            return interface
    return "lo"


def run_workers(name: str, processes: int) -> None:
    """Train ``name`` on ``processes`` workers of torch's launcher, each running this stage as one DDP rank.

    The workers connect through 127.0.0.1: the launcher's rendezvous at a free port, gloo's and nccl's
    sockets on the loopback interface (the launcher's stores, torch's ``TCPStore``, listen on every
    interface whatever address they are given: see the README's security notes). On the CPU each worker gets its share of this process's torch threads, so N workers on N cores do not
    oversubscribe them; with CUDA each worker takes a GPU. A worker that fails ends the others and the
    stage, with the launcher's report of which rank failed, and exit status 1.
    """
    if torch.cuda.is_available() and processes > torch.cuda.device_count():
        print(
            f"error: distill.processes: {processes} processes need as many GPUs, and {torch.cuda.device_count()} "
            f"are visible (CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')})",
            file=sys.stderr,
        )
        raise SystemExit(2)
    threads = max(1, torch.get_num_threads() // processes)
    interface = loopback_interface()
    env = {
        **os.environ, STAGE_PID: str(os.getpid()), "OMP_NUM_THREADS": str(threads),
        "GLOO_SOCKET_IFNAME": interface, "NCCL_SOCKET_IFNAME": interface,
    }
    if not torch.cuda.is_available():
        # accelerate names rank r's CPU `cpu:r`, a location torch.load cannot map a checkpoint's optimizer to (resume)
        env["ACCELERATE_TORCH_DEVICE"] = "cpu"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nnodes=1", f"--nproc-per-node={processes}",
        "--rdzv-backend=c10d", "--rdzv-endpoint=127.0.0.1:0", "--local-addr=127.0.0.1", "--max-restarts=0",
        "-m", "tasks.student", name,
    ]
    log.info("training %s on %d processes, %d torch threads each: %s", name, processes, threads, " ".join(command[1:]))
    status = subprocess.run(command, env=env, check=False).returncode
    if status != 0:
        print(
            f"error: student {name}: training on {processes} processes failed (torch.distributed.run exited with "
            f"status {status}; its report above names the failed rank and its error)",
            file=sys.stderr,
        )
        raise SystemExit(1)


def distill(
    student: SentenceTransformer,
    train_texts: list[str],
    train_targets: np.ndarray,
    heldout_texts: list[str],
    heldout_targets: np.ndarray,
    params: DistillParams,
    checkpoint_dir: Path,
    log_dir: Path,
    resume: Path | None = None,
    matryoshka_dims: Sequence[int] = (),
    train_translations: list[str] | None = None,
    dev_translations: tuple[list[str], np.ndarray] | None = None,
) -> tuple[SentenceTransformer, dict]:
    """Train ``student`` to reproduce the targets with ``MSELoss``; return the best step by STSb dev.

    With ``matryoshka_dims``, ``MatryoshkaLoss`` adds the MSE of the first k dimensions (normalized) to the
    first k of the targets, for each k, beside the full dimension's. With ``train_translations`` (one per
    training text), the student's embedding of the translation learns the text's target too: ``MSELoss``
    sums both columns' errors, as sentence-transformers' ``make_multilingual`` example trains. Its best step is
    then the one whose embeddings of ``dev_translations`` (texts, and their sources' targets) are nearest those
    targets: STSb dev, in the teacher's language, says nothing of the other one (on the tiny stand-in it peaked at
    step 22 of 55, and the student it picked found 19% of the held-out translations, where 5 epochs of the same
    training without selection found 37%).

    Resumes from the checkpoint ``resume`` when given. With ``params.processes`` > 1 this is one of the
    workers of a distributed launch (see ``run_workers``): each takes ``batch_size / processes`` a step.
    """
    if len(train_texts) < params.batch_size:
        raise ValueError(
            f"distill.batch_size: {params.batch_size} is larger than the {len(train_texts)} training sentences"
        )
    set_seed(params.seed)
    dimension = train_targets.shape[1]
    labels = pa.FixedSizeListArray.from_arrays(pa.array(train_targets.reshape(-1), pa.float32()), dimension)
    texts = {"sentence": train_texts} if train_translations is None else {"source": train_texts, "target": train_translations}
    train_dataset = datasets.Dataset(pa.table({**texts, "label": labels}))
    steps_per_epoch = -(-len(train_texts) // params.batch_size)
    total_steps = params.max_steps if params.max_steps > 0 else int(np.ceil(steps_per_epoch * params.epochs))
    eval_steps = min(params.eval_steps, total_steps)
    evaluators = [
        stsb_evaluator("dev", batch_size=params.batch_size),
        CachedMSEEvaluator(heldout_texts, heldout_targets, name="heldout", batch_size=params.batch_size),
    ]
    if dev_translations is not None:
        evaluators.append(CachedMSEEvaluator(*dev_translations, name="parallel-dev", batch_size=params.batch_size))
    evaluator = RankZeroEvaluator(evaluators)
    selected_by = DEV_METRIC if dev_translations is None else PARALLEL_DEV_METRIC
    args = SentenceTransformerTrainingArguments(
        output_dir=str(checkpoint_dir),
        num_train_epochs=params.epochs,
        max_steps=params.max_steps,
        per_device_train_batch_size=params.batch_size // params.processes,
        per_device_eval_batch_size=params.batch_size,
        learning_rate=params.learning_rate,
        warmup_ratio=params.warmup_ratio,
        eval_strategy="steps",
        eval_steps=eval_steps,
        save_strategy="steps",
        save_steps=eval_steps,
        save_total_limit=2,
        load_best_model_at_end=True,
        metric_for_best_model=selected_by,
        greater_is_better=True,
        logging_steps=max(1, eval_steps // 2),
        seed=params.seed,
        data_seed=params.seed,
        report_to="none",
        # DDP: gloo on the CPU (accelerate would take MPI where torch has it); with CUDA accelerate's choice, nccl
        **({"use_cpu": True, "ddp_backend": "gloo"} if params.processes > 1 and not torch.cuda.is_available() else {}),
    )
    loss = MSELoss(student)
    if matryoshka_dims:
        loss = MatryoshkaLoss(student, loss, [dimension, *matryoshka_dims])
    trainer = SentenceTransformerTrainer(
        model=student, args=args, train_dataset=train_dataset, loss=loss, evaluator=evaluator,
        callbacks=[TrainingCurves(log_dir)],
    )
    if trainer.args.world_size != params.processes:
        raise RuntimeError(f"distill.processes is {params.processes}, but the trainer runs on {trainer.args.world_size}")
    if resume:
        log.info("resuming training from %s", resume)
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    trainer.accelerator.wait_for_everyone()  # every rank has loaded the best checkpoint: the first may now remove them
    best = trainer.state.best_model_checkpoint
    best_step = int(best.rsplit("-", 1)[-1]) if best else trainer.state.global_step
    scores = next((e for e in trainer.state.log_history if e.get("step") == best_step and DEV_METRIC in e), {})
    return trainer.model, {
        "train_seconds": round(time.perf_counter() - started, 1),
        "steps": trainer.state.global_step,
        "best_step": best_step,
        "selected_by": CURVES[selected_by],
        "best_stsb_dev_spearman": scores.get(DEV_METRIC, trainer.state.best_metric),
        **({"best_parallel_dev_mse_x100": -scores[PARALLEL_DEV_METRIC]} if PARALLEL_DEV_METRIC in scores else {}),
        "resumed_from": resume.name if resume else None,
    }


def train_student(name: str, params: Params) -> dict:
    spec = params.students[name]
    distill_params = params.distill_for(name)
    rank = worker_rank(distill_params.processes)
    if rank is not None:
        end_with_the_launcher()
    teacher_cache = open_teacher_cache()
    if spec.train:
        run_key = training_run_key(name, spec, distill_params, params.teacher.model, teacher_cache.fingerprint)
        checkpoints = CHECKPOINTS_DIR / name
        resume = prepare_checkpoints(checkpoints, run_key, distill_params.processes, worker=rank is not None)
        if distill_params.processes > 1 and rank is None:
            run_workers(name, distill_params.processes)
            return json.loads(student_metrics_file(name).read_text())
    student, facts = build_student(spec, params.teacher.model, teacher_cache.fingerprint)
    summary: dict = {"name": name, **facts, "trained": spec.train}
    if spec.train:
        train_texts, heldout_texts = corpus_sentences("train"), corpus_sentences("heldout")
        translations, dev_translations = None, None
        if spec.parallel:  # the parallel pairs instead of the corpus: the teacher's embedding of each source is the target
            train_texts, translations = parallel_pairs("train")
            dev_sources, dev_targets = parallel_pairs("dev")
            dev_translations = (dev_targets, teacher_cache.lookup(dev_sources))
            summary["parallel_pairs"] = len(train_texts)
        train_targets, heldout_targets = teacher_cache.lookup(train_texts), teacher_cache.lookup(heldout_texts)
        student_dim = student.get_embedding_dimension()
        if spec.matryoshka_dims:
            mean, axes = principal_axes(train_targets, student_dim)
            train_targets, heldout_targets = in_axes(train_targets, mean, axes), in_axes(heldout_targets, mean, axes)
            if dev_translations is not None:
                dev_translations = (dev_translations[0], in_axes(dev_translations[1], mean, axes))
            student = with_rotation(student, mean, axes)
            summary.update(targets_projected=f"{teacher_cache.dimension}->{student_dim}, centred principal axes",
                           matryoshka_dims=spec.matryoshka_dims)
        elif student_dim != teacher_cache.dimension:
            others = [heldout_targets] + ([dev_translations[1]] if dev_translations is not None else [])
            train_targets, heldout_targets, *dev = project_targets(train_targets, others, student_dim, distill_params.seed)
            if dev:
                dev_translations = (dev_translations[0], dev[0])
            summary["targets_projected"] = f"{teacher_cache.dimension}->{student_dim}"
        student, training = distill(
            student, train_texts, train_targets, heldout_texts, heldout_targets, distill_params, checkpoints,
            training_log_dir(name), resume, spec.matryoshka_dims, translations, dev_translations,
        )
        summary.update(
            training, epochs=distill_params.epochs, learning_rate=distill_params.learning_rate,
            processes=distill_params.processes,
        )
        if rank:
            return summary  # the first worker writes the outputs
    else:
        untrained_training_log(training_log_dir(name))
    summary["parameters"] = sum(p.numel() for p in student.parameters())
    if spec.static:
        made = f"a static embedding table of {params.teacher.model}'s vocabulary, distilled by model2vec"
        made += ", refined on its embeddings (MSE)" if spec.train else " (not refined)"
    else:
        made = f"layers {summary['kept_layers']} of {params.teacher.model}" if "kept_layers" in summary else summary["source"]
        made += f", distilled from {params.teacher.model} (MSE to its embeddings)" if spec.train else " (not trained)"
    if spec.parallel:
        made += "; trained on parallel sentences: a source and its translation both map to the teacher's embedding of the source"
    if spec.matryoshka_dims:
        made += f"; Matryoshka: its first {', '.join(map(str, spec.matryoshka_dims))} dimensions are embeddings on their own"
    describe_model(student, name, summary["source"], made)
    with atomic_dir(student_dir(name)) as tmp:
        student.save(str(tmp))
    write_json(student_metrics_file(name), summary)
    shutil.rmtree(CHECKPOINTS_DIR / name, ignore_errors=True)  # the run is done: nothing may resume from it
    return summary


def main(argv: list[str] | None = None) -> int:
    return run_for_student("student", argv, student=train_student)


if __name__ == "__main__":
    configure_logging()
    raise SystemExit(main())
