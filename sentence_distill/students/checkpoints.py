"""Training checkpoints in ``.work/checkpoints/<name>``: a killed run resumes from its last complete one, and
only a run with the same inputs (training data, STSb dev, teacher targets, student, distill params, training
code) may reuse them; the stage removes them once the model is saved."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import zipfile
from pathlib import Path

from safetensors import SafetensorError, safe_open

from sentence_distill.code_closure import file_digests, project_files
from sentence_distill.config.schema import DistillParams, StudentSpec
from sentence_distill.paths import PARALLEL_FILE, PREPARED_DIR

log = logging.getLogger(__name__)

TRAINING_DATA = ("corpus.parquet", "stsb_dev.parquet", PARALLEL_FILE)  # what training reads from the prepared data
# torch.save zip files the trainer resumes from, beside its RNG states
CHECKPOINT_ARCHIVES = ("optimizer.pt", "scheduler.pt")
TRAINING_CODE = "sentence_distill.students.trainer"  # the module that trains: its import closure is the training code


def training_run_key(
    name: str, spec: StudentSpec, params: DistillParams, teacher_ref: str, teacher_fingerprint: str
) -> str:
    """Hash of everything the trained model depends on: the training, held-out and STSb dev data, the
    teacher and its targets, the student, the distill params and the training code.

    ``distill.processes`` among them: it changes the results (each process draws its own dropout
    masks, an epoch drops its last incomplete batch) and the RNG files a checkpoint holds."""
    digest = hashlib.sha256(
        json.dumps([name, spec.model_dump(), params.model_dump(), teacher_ref, teacher_fingerprint]).encode()
    )
    for path in (PREPARED_DIR / file for file in TRAINING_DATA):
        digest.update(path.read_bytes() if path.is_file() else b"absent")  # the parallel pairs are optional
    digest.update(json.dumps(file_digests(project_files(TRAINING_CODE))).encode())
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
