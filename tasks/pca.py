"""Stage ``pca@NAME-DIM``: PCA dimensionality reduction, stored inside the model as a centred ``Dense`` layer.

    python -m tasks.pca NAME DIM

Fits the PCA on the student's cached embeddings (stage ``student_embeddings``; how, in
``sentence_distill.students.pca``) and writes an ordinary sentence-transformers model to
``models/<name>/pca/<dim>`` and its explained variance to ``metrics/pca/<name>/<dim>.json``. Each
dimension is its own stage: adding one fits only it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sentence_distill.cli import run_for_student, stage_main
from sentence_distill.config.schema import Params
from sentence_distill.fileio import atomic_dir, write_json, write_note_dir
from sentence_distill.paths import pca_dir, student_dir
from sentence_distill.provenance import derived_model_card, saved_base_model
from sentence_distill.students.body import StaleBodyCacheError
from sentence_distill.students.pca import fit_student_pca, write_pca_model

log = logging.getLogger(__name__)


def reduce_student(name: str, dim: int, params: Params) -> dict:
    """Fit the ``dim``-component PCA on the student's cached embeddings and save the reduced model."""
    if dim not in params.pca_dims_for(name):
        write_note_dir(pca_dir(name, dim), params.no_pca_note(name))
        summary = {"name": name, "dimension": dim, "not_requested": params.no_pca_note(name).strip()}
        write_json(Path("metrics/pca") / name / f"{dim}.json", summary)
        return summary
    pca, fit_rows = fit_student_pca(name, dim, params)
    normalized = params.pca.fit_on == "normalized"
    fold = params.pca_folds_into_table(name)
    with atomic_dir(pca_dir(name, dim)) as tmp:
        write_pca_model(student_dir(name), tmp, pca, dim, normalized_input=normalized, fold=fold)
        about = f"The student `{name}` with its embeddings reduced to {dim} dimensions by PCA" + (
            ", folded into its table." if fold else " (a `Dense` layer before its `Normalize`)."
        )
        card = derived_model_card(f"{name}-pca{dim}", saved_base_model(student_dir(name)), about)
        (tmp / "README.md").write_text(card, encoding="utf8")
    summary = {
        "name": name,
        "dimension": dim,
        "fit_sentences": fit_rows,
        "fit_on": params.pca.fit_on,
        "explained_variance": round(float(pca.explained_variance_ratio_.sum()), 5),
    }
    write_json(Path("metrics/pca") / name / f"{dim}.json", summary)
    log.info("PCA %s -> %d: explained variance %.4f", name, dim, summary["explained_variance"])
    return summary


def main(argv: list[str] | None = None) -> int:
    return run_for_student("pca", argv, dimension=reduce_student)


if __name__ == "__main__":
    raise SystemExit(stage_main(main, messages=(StaleBodyCacheError,)))
