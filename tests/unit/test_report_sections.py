"""The report's side-by-side section with the reference (its table, and option 1 against option 2 read off the pruned
students' curve) on hand-made metric files with known answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from sentence_distill.config.schema import Params
from sentence_distill.records.summary import ComparisonRow, Summary
from sentence_distill.report.build import build_report
from sentence_distill.report.reference_comparison import curve_text, option1_finding
from tests.project import ROOT
from tests.report_runs import ENVIRONMENT, speed, write_run

MPNET_STSB = 0.8342  # the teacher of the comparison below: 12 layers, 768-d, as the reference's


def figures(stsb: float, dimension: int = 768, others: float = 1.0) -> dict:
    """A model's figures against a teacher at ``MPNET_STSB``; the three other families keep ``others``."""
    shares = {"classification_kept": others, "clustering_kept": others, "retrieval_kept": others}
    return {
        "dimension": dimension,
        "bytes_per_embedding": 4 * dimension,
        "stsb_test_spearman": stsb,
        "stsb_test_kept": stsb / MPNET_STSB,
        **shares,
        "families_kept_mean": (stsb / MPNET_STSB + 3 * others) / 4,
    }


@pytest.fixture
def reference_metrics(tmp_path: Path) -> tuple[Path, Path, Params]:
    """A 12-layer, 768-d teacher at 83.42; L12 its layers untrained (L12-pca128 83.04); L6 distilled, 84.26 at 1.96x
    [1.90-2.00]; L5 distilled (no 5-layer row in the reference), 83.50 at 2.30x [2.20-2.40]; MiniLM, its own model
    (option 1, 384-d), 82.00 at 2.35x [2.25-2.45]: its spread overlaps L5's only. The PCA models of the students
    exist but have no reference row; an int8 copy is not fp32."""
    files = {
        "teacher": {"teacher": figures(MPNET_STSB)},
        "L12": {"L12": figures(MPNET_STSB), "L12-onnx-int8": figures(0.8250)},
        "L12-pca128": {"L12-pca128": figures(0.8304, 128, others=0.99)},
        "L6": {"L6": figures(0.8426, others=0.98)},
        "L6-pca128": {"L6-pca128": figures(0.8355, 128)},
        "L5": {"L5": figures(0.8350, others=0.97)},
        "L5-pca128": {"L5-pca128": figures(0.8290, 128)},
        "MiniLM": {"MiniLM": figures(0.8200, 384, others=0.96)},
        "MiniLM-pca128": {"MiniLM-pca128": figures(0.8150, 128)},
    }
    benchmark = {
        "method": {
            "sentences": 256,
            "batch_size": 32,
            "latency_queries": 16,
            "rounds": 5,
            "min_seconds": 0.2,
            "seed": 42,
            "seconds": 10.0,
        },
        "environment": ENVIRONMENT,
        "models": {
            "teacher": speed(1.0, 1.0, 1.0, "teacher", layers=12),
            "L12": speed(1.0, 0.95, 1.05, "L12", layers=12),
            "L12-onnx-int8": speed(2.5, 2.4, 2.6, "L12", own=2.5),
            "L12-pca128": speed(1.01, 0.96, 1.06, "L12-pca128"),
            "L6": speed(1.96, 1.90, 2.00, "L6", layers=6),
            "L6-pca128": speed(1.97, 1.90, 2.01, "L6-pca128"),
            "L5": speed(2.30, 2.20, 2.40, "L5", layers=5),
            "L5-pca128": speed(2.31, 2.21, 2.41, "L5-pca128"),
            "MiniLM": speed(2.35, 2.25, 2.45, "MiniLM", layers=6),
            "MiniLM-pca128": speed(2.36, 2.26, 2.46, "MiniLM-pca128"),
        },
    }
    eval_dir, benchmark_file = write_run(tmp_path, files, benchmark)
    raw = yaml.safe_load((ROOT / "profiles" / "tiny.yaml").read_text())
    raw["teacher"]["model"] = "sentence-transformers/all-mpnet-base-v2"
    raw["students"] = {
        "L12": {"train": False},
        "L6": {"num_layers": 6},
        "L5": {"num_layers": 5},
        "MiniLM": {"model": "sentence-transformers/all-MiniLM-L6-v2"},
    }
    raw["pca"]["dims"] = [128]
    raw["report"]["compare_with_reference"] = True
    return eval_dir, benchmark_file, Params.model_validate(raw)  # the schema only: no model is read


def test_side_by_side_with_the_reference(reference_metrics, tmp_path: Path) -> None:
    eval_dir, benchmark_file, params = reference_metrics
    text = build_report(tmp_path / "reports", eval_dir, benchmark_file, tmp_path / "summary.json", params)
    section = text.split("## Side by side with the reference\n", 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| model")]
    assert rows == [
        "| teacher | teacher | 12 | 768 | 85.44 | +0.00% | 83.42 | +0.00% | 1.00x | 1.00x [1.00-1.00] | cpu "
        "| 100.0% | 100.0% | 100.0% | 100.0% |",
        "| L12 | the teacher's layers, not trained | 12 | 768 | 85.44 | +0.00% | 83.42 | +0.00% | 1.00x | 1.00x "
        "[0.95-1.05] | cpu "
        "| 100.0% | 100.0% | 100.0% | 100.0% |",
        # 85.23 / 85.44 - 1 = -0.25%; 84.26 / 83.42 - 1 = +1.01%; 4000 / 2300 sentences/s = 1.74x
        "| L6 | 6 of the teacher's layers, distilled | 6 | 768 | 85.23 | -0.25% | 84.26 | +1.01% | 1.74x | 1.96x "
        "[1.90-2.00] | cpu "
        "| 98.0% | 98.0% | 98.0% | 98.8% |",
        "| L5 | 5 of the teacher's layers, distilled | 5 | 768 | - | - | 83.50 | +0.10% | - | 2.30x [2.20-2.40] | cpu "
        "| 97.0% | 97.0% | 97.0% | 97.8% |",
        # 84.96 / 85.44 - 1 = -0.56%; no speed of the reference's PCA model
        "| L12-pca128 | the teacher + PCA 768->128 | 12 | 128 | 84.96 | -0.56% | 83.04 | -0.46% | - | 1.01x "
        "[0.96-1.06] | cpu "
        "| 99.0% | 99.0% | 99.0% | 99.1% |",
        "| MiniLM | option 1: sentence-transformers/all-MiniLM-L6-v2, distilled | 6 | 384 | - | - | 82.00 | -1.70% | - "
        "| 2.35x [2.25-2.45] | cpu | 96.0% | 96.0% | 96.0% | 96.6% |",
    ]
    assert "a V100 GPU over its teacher's 2300; ours are this benchmark's, on cpu (test CPU)" in section
    assert "only the teachers are matched" not in section
    assert (
        '- Option 1 against option 2 (the reference: "Option 2) works usually better, as we keep most of the weights '
        "from the teacher.\"): MiniLM keeps 98.30% of our teacher's STSb at 2.35x [2.25-2.45]; the pruned student "
        "closest in speed (spreads overlap): L5 keeps 100.10% of our teacher's STSb at 2.30x [2.20-2.40]. The claim "
        "holds here"
    ) in section
    comparison = Summary.read(tmp_path / "summary.json").reference_comparison
    assert [(r.model, r.kind) for r in comparison.rows] == [
        ("teacher", "teacher"),
        ("L12", "teacher_copy"),
        ("L6", "pruned"),
        ("L5", "pruned"),
        ("L12-pca128", "teacher_pca"),
        ("MiniLM", "option1"),
    ]
    l6 = comparison.rows[2]
    assert l6.reference_stsb == 85.23 and l6.reference_speedup == pytest.approx(4000 / 2300)
    assert l6.stsb_test_kept == pytest.approx(0.8426 / MPNET_STSB) and l6.speedup == 1.96
    assert [f.to_dict() for f in comparison.option1] == [
        {"student": "MiniLM", "closest_pruned": ["L5"], "same_speed": True, "verdict": "holds", "pruned_curve": None}
    ]  # no pruned student faster than it


def test_side_by_side_reads_a_trade_off_off_the_pruned_students_curve(reference_metrics, tmp_path: Path) -> None:
    """MiniLM moved between L6 and L5 in speed, outside both spreads: L6 is slower and better, a trade-off, so the
    section reads the pruned students' curve at MiniLM's speed and says on which side MiniLM lies."""
    eval_dir, benchmark_file, params = reference_metrics
    benchmark = json.loads(benchmark_file.read_text())
    benchmark["models"]["MiniLM"] = speed(2.10, 2.05, 2.15, "MiniLM", layers=6)
    benchmark_file.write_text(json.dumps(benchmark))
    text = build_report(tmp_path / "reports", eval_dir, benchmark_file, tmp_path / "summary.json", params)
    section = text.split("## Side by side with the reference\n", 1)[1]
    # on the line from L6 (1.96x, 84.26) to L5 (2.30x, 83.50), MiniLM's 2.10x sits at ln(2.10/1.96)/ln(2.30/1.96) = 0.43
    assert (
        "the pruned student closest in speed (the nearest median, outside the spread): L6 keeps 101.01% of our "
        "teacher's STSb at 1.96x [1.90-2.00]. Neither is better on both STSb and speed: a trade-off, which alone "
        "does not answer the claim. On the pruned students' curve (a straight line in log speed-up between L6 and "
        "L5), a pruned student at MiniLM's 2.10x would keep 100.61%: MiniLM lies 2.32 points below it, so on that "
        "curve the claim holds here."
    ) in section
    finding = Summary.read(tmp_path / "summary.json").reference_comparison.option1[0]
    assert finding.verdict == "trade-off" and finding.pruned_curve.between == ["L6", "L5"]


def test_side_by_side_without_option_1_and_with_another_teacher(metrics, tmp_path: Path) -> None:
    """The 6-layer, 384-d teacher of ``metrics``: only the teachers are matched, and no option-1 student is said so."""
    eval_dir, benchmark_file, params = metrics
    params = params.model_copy(update={"report": params.report.model_copy(update={"compare_with_reference": True})})
    text = build_report(tmp_path / "reports", eval_dir, benchmark_file, tmp_path / "summary.json", params)
    section = text.split("## Side by side with the reference\n", 1)[1]
    assert (
        "Our teacher has 6 layers and 384 dimensions, the reference's 12 and 768: only the teachers are matched."
        in section
    )
    assert "| teacher | teacher | 6 | 384 | 85.44 | +0.00% | 80.00 | +0.00% | 1.00x |" in section
    assert (
        "| L3 | 3 of the teacher's layers, distilled | 3 | 384 | - | - | 79.50 | -0.62% | - | 1.80x [1.70-1.90] |"
        in section
    )
    assert "no student with its own `model:` in this run, so the claim is not tested here." in section
    assert (
        "L3-pca64 |" not in section and "L3-onnx-int8" not in section
    )  # a pruned student's PCA and int8 models: no reference row
    comparison = Summary.read(tmp_path / "summary.json").reference_comparison
    assert comparison.students_matched is False and comparison.option1 == []


def comparison_row(name: str, kept: float, median: float) -> ComparisonRow:
    """A row of the side-by-side comparison; ``option1_finding`` reads its STSb kept and speed-up (spread 0.1)."""
    return ComparisonRow(
        model=name,
        kind="pruned",
        what=name,
        layers=1,
        dimension=384,
        reference_stsb=None,
        reference_stsb_kept=None,
        reference_speedup=None,
        stsb=80 * kept,
        stsb_test_kept=kept,
        speedup=median,
        speedup_q1=median - 0.05,
        speedup_q3=median + 0.05,
        device="cpu",
    )


def test_option_1_against_the_nearest_pruned_student_outside_the_spread() -> None:
    """No pruned student's spread overlaps: the nearest median is taken, and a faster, better one answers the claim."""
    option1 = comparison_row("Small", 0.95, 3.0)
    l2, l1, l4 = comparison_row("L2", 0.97, 3.4), comparison_row("L1", 0.93, 4.1), comparison_row("L4", 0.99, 2.2)
    assert option1_finding(option1, [l4, l2, l1]).to_dict() == {
        "student": "Small",
        "closest_pruned": ["L2"],
        "same_speed": False,
        "verdict": "holds",
        "pruned_curve": {
            "between": ["L4", "L2"],
            "stsb_test_kept": pytest.approx(0.9758, abs=1e-4),
            "option1_lead": pytest.approx(-0.0258, abs=1e-4),
        },  # 0.99 + ln(3/2.2)/ln(3.4/2.2) * (0.97 - 0.99)
    }
    assert option1_finding(option1, [l4]).verdict == "trade-off"  # slower but better
    assert option1_finding(option1, [l1]).verdict == "trade-off"  # faster but worse
    assert option1_finding(option1, [comparison_row("L3", 0.90, 3.0)]).verdict == "does not hold"
    assert option1_finding(option1, []).verdict == "no pruned student"
    assert option1_finding(option1, [l4]).pruned_curve is None  # nothing faster to draw the curve to


def test_a_trade_off_is_read_off_the_pruned_students_curve() -> None:
    """Faster than the nearest pruned student but worse: the line (in log speed-up) between the pruned students
    on either side says on which side of pruning's curve the option-1 student lies."""
    l2, l1 = (
        comparison_row("L2", 0.97, 3.4),
        comparison_row("L1", 0.93, 4.1),
    )  # at 3.8x the line is at 0.97 - ln(3.8/3.4)/ln(4.1/3.4) * 0.04 = 0.9462
    small = comparison_row("Small", 0.95, 3.8)
    above, below = option1_finding(small, [l2, l1]), option1_finding(comparison_row("Small", 0.94, 3.8), [l2, l1])
    assert above.verdict == below.verdict == "trade-off" and above.closest_pruned == ["L1"]
    assert above.pruned_curve.between == ["L2", "L1"] and above.pruned_curve.stsb_test_kept == pytest.approx(
        0.9462, abs=1e-4
    )
    assert above.pruned_curve.option1_lead > 0 > below.pruned_curve.option1_lead
    assert curve_text(small, above.pruned_curve) == (
        "On the pruned students' curve (a straight line in log speed-up between L2 and L1), a pruned student at "
        "Small's 3.80x would keep 94.62%: Small lies 0.38 points above it, so on that curve the claim does not "
        "hold here."
    )
    assert curve_text(small, below.pruned_curve).endswith(
        "Small lies 0.62 points below it, so on that curve the claim holds here."
    )
