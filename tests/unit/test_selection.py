"""The selection rule (``select:``) on hand-made rows with known answers: met, unmet (the floor and each constraint),
ties within the speed-up's spread, the objective ``smallest``; the report's first section; bad ``select`` values."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from sentence_distill.config.load import ParamsError, parse_params
from sentence_distill.config.schema import SelectParams
from sentence_distill.records.benchmark import ModelSpeed
from sentence_distill.records.evaluation import VariantMetrics
from sentence_distill.records.selection import Selection
from sentence_distill.report.answer import answer_section
from sentence_distill.report.build import build_report
from sentence_distill.report.rows import Row
from sentence_distill.report.selection import select_model
from tests.project import ROOT, TEST_ENV, run
from tests.report_runs import speed
from tests.tiny_params import with_change

TEACHER_STSB = 0.80


def row(
    label: str,
    stsb: float,
    speedup: tuple[float, float, float] = (1.0, 1.0, 1.0),
    fp32: str | None = None,
    mb: float = 50.0,
    dim: int = 384,
    p95: float = 10.0,
    runs_as: str | None = None,
    families: float | None = None,
) -> Row:
    """A model row as ``collect_rows`` makes it: STSb ``stsb`` (the teacher's 0.80), ``mb`` MB on disk, float32
    embeddings of ``dim`` dimensions, latency p95 ``p95`` ms; ``fp32`` its fp32 model (an int8 copy's)."""
    fp32 = fp32 or label
    metrics = VariantMetrics(
        dimension=dim,
        bytes_per_embedding=4 * dim,
        stsb_test_spearman=stsb,
        disk_bytes=int(mb * 1e6),
        families_kept_mean=stsb / TEACHER_STSB if families is None else families,
        runs_as=runs_as,
        fp32_model=fp32 if runs_as else None,
    )
    timed = speed(*speedup, fp32)
    timed["latency_ms"]["p95"] = p95
    return Row(
        label,
        metrics,
        stsb / TEACHER_STSB,
        stsb,
        kind="model",
        base=label,
        precision="float32",
        speed=ModelSpeed.from_dict(timed),
        fp32_model=fp32,
    )


def embedding(label: str, stsb: float, dim: int = 384) -> Row:
    metrics = VariantMetrics(dimension=dim, bytes_per_embedding=dim // 8, stsb_test_spearman=stsb)
    base, precision = label.split("-emb-")
    return Row(label, metrics, stsb / TEACHER_STSB, stsb, kind="embedding", base=base, precision=precision)


def rows() -> list[Row]:
    """Teacher 0.80; A 0.79 (98.75%) at 2.0x; its int8 copy 0.785 (98.1%) at 6.0x [5.5-6.5], 15 MB; B-onnx-int8
    0.776 (97.0%) at 6.4x [6.0-6.8], inside A-onnx-int8's spread; C 0.70 (87.5%) at 50x [45-55], 8 MB; M-mrl128,
    a Matryoshka cut running as M, 0.78 (97.5%) at 3.0x, 512 bytes per embedding; an embedding precision that
    would win everything if it were a candidate."""
    return [
        row("teacher", 0.80, mb=90.0, p95=40.0),
        row("A", 0.79, (2.0, 1.9, 2.1), mb=60.0, p95=20.0),
        row("A-onnx-int8", 0.785, (6.0, 5.5, 6.5), fp32="A", mb=15.0, p95=4.0),
        row("B-onnx-int8", 0.776, (6.4, 6.0, 6.8), fp32="B", mb=14.0, p95=3.5),
        row("C", 0.70, (50.0, 45.0, 55.0), mb=8.0, p95=1.0),
        row("M", 0.79, (3.0, 2.9, 3.1), mb=70.0, p95=15.0),
        row("M-mrl128", 0.78, (3.0, 2.9, 3.1), fp32="M-mrl128", mb=70.0, dim=128, p95=15.0, runs_as="M"),
        embedding("A-emb-binary", 0.80),
    ]


def select(**rule) -> Selection:
    constraints = {k: rule.pop(k) for k in list(rule) if k.startswith("max_") or k == "backends"}
    return select_model(rows(), SelectParams(**rule, constraints=constraints))


def test_fastest_within_the_spread_takes_the_higher_score() -> None:
    """B-onnx-int8 has the highest median of those keeping 97%, but A-onnx-int8's quartiles overlap it: the
    measurement does not tell them apart, and A-onnx-int8 scores higher."""
    chosen = select(floor=0.97)
    assert chosen.chosen.model == "A-onnx-int8" and chosen.chosen.backend == "onnx-int8"
    assert chosen.chosen.runs_as == "A-onnx-int8" and chosen.chosen.truncate_dim is None
    assert chosen.chosen.kept == pytest.approx(0.785 / 0.80) and chosen.chosen.size_mb == 15.0
    assert chosen.chosen.latency_p95_ms == 4.0 and chosen.chosen.bytes_per_embedding == 1536
    assert chosen.why.startswith("B-onnx-int8 has the highest median speed-up of the 5 models that meet the rule")
    assert "the speed-up spread of A-onnx-int8 overlaps it" in chosen.why
    assert [c.model for c in chosen.runners_up] == ["B-onnx-int8", "M", "M-mrl128"]  # by median speed-up
    assert chosen.meeting == 5 and chosen.candidates == 6  # not the teacher, not the embedding precision
    assert chosen.unmet == [] and chosen.nearest is None


def test_every_model_inside_the_fastest_spread_is_named() -> None:
    tied = [
        row("teacher", 0.80),
        row("X", 0.78, (6.0, 5.0, 7.0)),
        row("Y", 0.79, (5.5, 4.5, 6.5)),
        row("Z", 0.785, (5.8, 5.2, 6.0)),
    ]
    found = select_model(tied, SelectParams(floor=0.9))
    assert found.chosen.model == "Y" and "the speed-up spreads of Z and Y overlap it" in found.why


def test_fastest_beyond_the_spread_wins_on_speed_alone() -> None:
    """At a floor of 87%, C (50x [45-55]) is faster than every other model beyond the spread: it is chosen though
    it scores lowest."""
    chosen = select(floor=0.87)
    assert chosen.chosen.model == "C" and chosen.why.startswith("the fastest of the 6 models that meet the rule")


def test_a_matryoshka_cut_is_a_candidate_loaded_as_the_model_it_cuts() -> None:
    chosen = select(floor=0.97, max_bytes_per_embedding=512)
    assert chosen.chosen.model == "M-mrl128" and chosen.chosen.runs_as == "M" and chosen.chosen.truncate_dim == 128
    assert chosen.chosen.bytes_per_embedding == 512 and chosen.runners_up == []


def test_smallest_takes_the_fewest_bytes_on_disk() -> None:
    assert select(floor=0.97, objective="smallest").chosen.model == "B-onnx-int8"  # 14 MB against 15 MB
    smallest = select(floor=0.98, objective="smallest")
    assert smallest.chosen.model == "A-onnx-int8" and smallest.why.startswith("the smallest on disk of the 3")
    assert [c.model for c in smallest.runners_up] == ["A", "M"]  # 60 MB, 70 MB


def test_constraints_narrow_the_choice() -> None:
    assert select(floor=0.97, max_latency_p95_ms=3.9).chosen.model == "B-onnx-int8"  # A-onnx-int8's p95 is 4.0
    assert select(floor=0.97, max_size_mb=14.5).chosen.model == "B-onnx-int8"
    assert select(floor=0.97, backends=["fp32"]).chosen.model == "M"  # 3.0x, the fastest fp32 model
    assert select(floor=0.9, backends=["onnx-int8"], max_size_mb=14.5).chosen.model == "B-onnx-int8"


@pytest.mark.parametrize(
    ("rule", "unmet", "nearest", "misses"),
    [
        ({"floor": 0.99}, ["floor"], "M", ["floor"]),  # A and M keep 98.75%: the objective (fastest) orders them
        ({"floor": 0.5, "max_latency_p95_ms": 0.5}, ["max_latency_p95_ms"], "C", ["max_latency_p95_ms"]),
        ({"floor": 0.5, "max_size_mb": 5}, ["max_size_mb"], "C", ["max_size_mb"]),
        ({"floor": 0.5, "max_bytes_per_embedding": 256}, ["max_bytes_per_embedding"], "M-mrl128", None),
        ({"floor": 0.5, "backends": ["torch-int8"]}, ["backends"], "C", ["backends"]),
    ],
    ids=["floor", "latency", "size", "bytes per embedding", "backend"],
)
def test_unmet_names_what_no_model_meets_and_the_nearest(rule, unmet, nearest, misses) -> None:
    found = select(**rule)
    assert found.chosen is None and found.meeting == 0 and found.runners_up == []
    assert found.unmet == unmet and found.nearest.model == nearest
    assert found.nearest.misses == (misses or unmet)
    assert found.why.startswith("no model meets ")


def test_each_part_met_by_some_but_never_all_together() -> None:
    """Keeping 98% (A, A-onnx-int8, M) and a p95 under 3.6 ms (B-onnx-int8, C): each met, never both. The nearest
    has the least worst relative shortfall: B-onnx-int8 (97.0% against 98%: 1.0% short) before A-onnx-int8 (p95
    4.0 ms against 3.6 ms: 11% over)."""
    found = select(floor=0.98, max_latency_p95_ms=3.6)
    assert found.chosen is None and found.unmet == []
    assert found.why == "each part of the rule is met by some model, but no model meets all of them"
    assert found.nearest.model == "B-onnx-int8" and found.nearest.misses == ["floor"]


def test_rank_on_average_keeps_the_share_of_the_mean() -> None:
    """With the four families' mean, a model's score is already its share: the floor bounds it directly."""
    ranked = [row("teacher", 0.80, families=1.0), row("A", 0.70, (2.0, 1.9, 2.1), families=0.99)]
    ranked = [replace(r, quality=r.metrics.families_kept_mean) for r in ranked]  # as collect_rows ranks them
    found = select_model(ranked, SelectParams(rank_on="average", floor=0.98))
    assert found.chosen.model == "A" and found.chosen.kept == pytest.approx(0.99)


def test_the_section_says_the_answer_first() -> None:
    lines = answer_section(select(floor=0.97))
    assert lines[0] == "## Selected model: A-onnx-int8"
    assert lines[2].startswith("**A-onnx-int8** (onnx-int8): **6.00x** the teacher's speed [5.50-6.50], **15.0 MB**")
    assert "**1536 bytes** per embedding (384 dimensions), latency p95 4.0 ms" in lines[2]
    assert "STSb test Spearman **78.50** (98.12% of the teacher's)" in lines[2]
    assert "the floor (97% of the teacher's STSb test Spearman)" in lines[4] and "5 of 6 models meet it" in lines[4]
    assert "| B-onnx-int8 | onnx-int8 | 6.40x [6.00-6.80] | 77.60 | 97.00% | 14.0 | 1536 | 3.5 |" in lines
    unmet = answer_section(select(floor=0.99))
    assert unmet[0] == "## Selected model: none meets the rule"
    assert unmet[2] == "No model is selected: no model meets the floor (99% of the teacher's STSb test Spearman)."
    assert any(
        line.startswith("Nearest (the least worst shortfall relative to its bound): **M** (fp32)") for line in unmet
    )


def test_the_report_opens_with_the_answer_and_writes_selected_json(metrics, tmp_path: Path) -> None:
    """On the shared hand-made run (teacher 0.80; L3 0.795, L3-onnx-int8 0.792 at 3.0x [2.8-3.2], L3-pca64 0.789,
    the others below 0.788): keeping 98.5%, L3, L3-pca64 and L3-onnx-int8 meet the rule, L3-onnx-int8 the fastest."""
    eval_dir, benchmark_file, params = metrics
    params = params.model_copy(update={"select": SelectParams(floor=0.985)})
    text = build_report(tmp_path / "reports", eval_dir, benchmark_file, tmp_path / "summary.json", params)
    assert text.startswith(
        "# Distillation trade-offs\n\n## Selected model: L3-onnx-int8\n\n**L3-onnx-int8** (onnx-int8)"
    )
    selected = Selection.read(tmp_path / "selected.json")
    assert selected.chosen.model == "L3-onnx-int8" and selected.meeting == 3 and selected.rule.floor == 0.985
    assert [c.model for c in selected.runners_up] == ["L3-pca64", "L3"]


BAD_SELECT = [
    (
        "select.rank_on",
        "bogus",
        "select.rank_on: 'bogus' is not a figure to rank on (allowed: stsb, average, titles, title_pairs, own)",
    ),
    ("select.floor", 0, "select.floor: Input should be greater than 0 (got 0)"),
    ("select.floor", 1.5, "select.floor: Input should be less than or equal to 1 (got 1.5)"),
    ("select.floor", True, "select.floor: Input should be a valid number, not a boolean (got True)"),
    ("select.objective", "cheapest", "select.objective: Input should be 'fastest' or 'smallest' (got 'cheapest')"),
    (
        "select.constraints.backends",
        ["tensorrt"],
        "select.constraints.backends.0: Input should be 'fp32', 'onnx-int8', 'openvino-int8' or 'torch-int8' "
        "(got 'tensorrt')",
    ),
    (
        "select.constraints.backends",
        [],
        "select.constraints.backends: List should have at least 1 item after validation, not 0 (got [])",
    ),
    (
        "select.constraints.max_latency_p95_ms",
        -1,
        "select.constraints.max_latency_p95_ms: Input should be greater than 0 (got -1)",
    ),
    (
        "select.constraints.max_bytes_per_embedding",
        "small",
        "select.constraints.max_bytes_per_embedding: Input should be a valid integer (got 'small')",
    ),
    ("select.constraints.max_size", 10, "select.constraints.max_size: unknown key (allowed keys: max_latency_p95_ms"),
    ("report.rank_on", "stsb", "report.rank_on: unknown key (allowed keys: compare_with_reference)"),  # moved
]


@pytest.mark.parametrize(("key", "value", "message"), BAD_SELECT, ids=[f"{k}={v!r}" for k, v, _ in BAD_SELECT])
def test_bad_select_values_name_the_key(key: str, value, message: str) -> None:
    with pytest.raises(ParamsError) as error:
        parse_params(with_change(key, value), check_inputs=False)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_a_backend_the_run_does_not_make_is_refused() -> None:
    raw = with_change("select.constraints.backends", ["torch-int8"])
    raw["quantize"]["backends"] = ["onnx-int8"]
    with pytest.raises(ParamsError, match=r"^select.constraints.backends: \['torch-int8'\] names no backend this run"):
        parse_params(raw, check_inputs=False)


def test_a_student_named_selected_is_refused() -> None:
    with pytest.raises(ParamsError, match=r"students.selected: the name 'selected' is reserved for release/selected/"):
        parse_params(with_change("students", {"selected": {"layers": [0]}}), check_inputs=False)


def test_bad_select_exits_2_with_one_line_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(with_change("select.objective", "cheapest")))
    result = run(["python", "-m", "tasks.report"], tmp_path, check=False, env={**TEST_ENV, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        "error: invalid params in params.yaml:",
        "select.objective: Input should be 'fastest' or 'smallest' (got 'cheapest')",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]
