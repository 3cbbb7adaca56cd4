"""``distill.loss``: each term on hand-made embeddings with a value worked out by hand, their weighted sum, the
default that is sentence-transformers' ``MSELoss`` itself, Matryoshka and parallel students, the cache key, and
the params refused. Training with the terms: the ablation in ``results/recipe-ablation.md``."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import yaml
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.losses import MatryoshkaLoss, MSELoss

from sentence_distill import assets
from sentence_distill.config.load import ParamsError, load_or_exit, parse_params
from sentence_distill.config.schema import DistillParams, StudentSpec
from sentence_distill.students.checkpoints import training_run_key
from sentence_distill.students.losses import DistillationLoss, distillation_loss
from tests.tiny_params import with_change

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
E1, E2 = [1.0, 0.0], [0.0, 1.0]


@pytest.fixture(scope="module")
def model() -> SentenceTransformer:
    return SentenceTransformer(assets.resolve_model(MINILM), device="cpu")


def term(model: SentenceTransformer, name: str, student: list, target: list, temperature: float = 0.05) -> float:
    loss = DistillationLoss(model, {name: 1.0}, temperature)
    return loss.from_embeddings([torch.tensor(student)], torch.tensor(target)).item()


def test_mse_and_cosine_by_hand(model: SentenceTransformer) -> None:
    """Swapped unit vectors: every coordinate off by 1 (MSE 1), cosines 0 (cosine term 1); one right, one
    orthogonal: MSE 2/4, cosine term (0 + 1) / 2; a target at 3 times the length: cosine 1, term 0."""
    assert term(model, "mse", [E1, E2], [E2, E1]) == pytest.approx(1.0)
    assert term(model, "mse", [E1, E2], [E1, E1]) == pytest.approx(0.5)
    assert term(model, "cosine", [E1, E2], [E2, E1]) == pytest.approx(1.0)
    assert term(model, "cosine", [E1, E2], [E1, E1]) == pytest.approx(0.5)
    assert term(model, "cosine", [E1, [0.0, -1.0]], [[3.0, 0.0], E2]) == pytest.approx(1.0)  # 0 and 2


def test_relational_by_hand(model: SentenceTransformer) -> None:
    """Orthogonal student rows (cosine matrix I) against parallel targets (all ones): the two off-diagonal
    entries are 1 apart, MSE 2/4. The batch's structure only: lengths and a rotation of the whole space are free."""
    assert term(model, "relational", [E1, E2], [E1, E1]) == pytest.approx(0.5)
    assert term(model, "relational", [[3.0, 0.0], [0.0, 0.5]], [E2, [-1.0, 0.0]]) == pytest.approx(0.0)
    three = [[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]  # against all ones: four entries 1 apart (0), two 2 apart (-1)
    assert term(model, "relational", three, [E1, E1, E1]) == pytest.approx((4 * 1 + 2 * 4) / 9)


def test_contrastive_by_hand(model: SentenceTransformer) -> None:
    """Each row's cosines to the batch's targets over T, its own target the class: cosine 1 to its own, 0 to the
    other, gives -log(e^(1/T) / (e^(1/T) + 1)) = log(1 + e^(-1/T)); swapped targets, log(1 + e^(1/T))."""
    assert term(model, "contrastive", [E1, E2], [E1, E2], temperature=1.0) == pytest.approx(math.log(1 + math.e**-1))
    assert term(model, "contrastive", [E1, E2], [E2, E1], temperature=1.0) == pytest.approx(math.log(1 + math.e))
    assert term(model, "contrastive", [E1, E2], [E1, E2], temperature=0.5) == pytest.approx(math.log(1 + math.e**-2))


def test_the_loss_is_the_weighted_sum_of_its_terms(model: SentenceTransformer) -> None:
    generator = torch.Generator().manual_seed(0)
    student, target = torch.randn(8, 16, generator=generator), torch.randn(8, 16, generator=generator)
    weights = {"mse": 0.5, "cosine": 2.0, "relational": 1.0, "contrastive": 0.25}
    alone = {
        name: DistillationLoss(model, {name: 1.0}, 0.1).from_embeddings([student], target).item() for name in weights
    }
    together = DistillationLoss(model, weights, 0.1).from_embeddings([student], target).item()
    assert len(set(alone.values())) == 4
    assert together == pytest.approx(sum(weights[name] * alone[name] for name in weights), rel=1e-6)


def test_the_default_is_mse_loss_itself(model: SentenceTransformer) -> None:
    """``{mse: 1.0}`` trains with ``MSELoss`` (every figure as before the terms); the sum of that one term gives
    exactly its value too."""
    assert type(distillation_loss(model, DistillParams().loss, 0.05)) is MSELoss
    assert type(distillation_loss(model, {"mse": 1.0, "cosine": 1.0}, 0.05)) is DistillationLoss
    student, target = torch.randn(8, 16), torch.randn(8, 16)
    expected = MSELoss(model).compute_loss_from_embeddings([student], [target])
    assert torch.equal(DistillationLoss(model, {"mse": 1.0}).from_embeddings([student], target), expected)


def test_a_parallel_student_averages_its_columns(model: SentenceTransformer) -> None:
    """Two text columns (a source and its translation) both learn the source's target: the mean of the two."""
    loss = DistillationLoss(model, {"relational": 1.0, "contrastive": 1.0}, 1.0)
    first, second = torch.tensor([E1, E2]), torch.tensor([E2, E1])
    target = torch.tensor([E1, E2])
    both = loss.from_embeddings([first, second], target).item()
    alone = [loss.from_embeddings([column], target).item() for column in (first, second)]
    assert both == pytest.approx(sum(alone) / 2) and alone[0] != alone[1]


def test_matryoshka_and_parallel_students_train_with_the_terms(model: SentenceTransformer) -> None:
    """Through the model: MatryoshkaLoss around the sum, two text columns, a finite loss with gradients."""
    student = SentenceTransformer(assets.resolve_model(MINILM), device="cpu")
    texts = ["A man plays a guitar.", "The stock market fell.", "A cat sleeps.", "Rain is expected tomorrow."]
    targets = torch.tensor(model.encode(texts))
    features = [student.tokenize(texts), student.tokenize(texts[::-1])]
    loss = MatryoshkaLoss(student, DistillationLoss(student, {"mse": 1.0, "contrastive": 0.5}), [384, 64])
    value = loss(features, targets)
    value.backward()
    assert torch.isfinite(value) and value.item() > 0
    assert student[0].auto_model.encoder.layer[0].attention.self.query.weight.grad.abs().sum() > 0


def key(**distill) -> str:
    """The training cache key of a 3-layer student with these distill params."""
    params = DistillParams.model_validate(distill)
    return training_run_key("L3", StudentSpec(num_layers=3), params, MINILM, "fingerprint")


def test_a_changed_loss_retrains() -> None:
    """The loss and its temperature are in the training cache key; two spellings of one loss are one key."""
    default = key()
    assert key(loss={"mse": 1.0, "relational": 1.0}) != default
    assert key(loss={"cosine": 1.0}) != default
    contrastive = {"mse": 1.0, "contrastive": 1.0}
    assert key(loss=contrastive) != key(loss=contrastive, contrastive_temperature=0.1)
    assert key(loss={"mse": 1, "cosine": 0}) == default
    assert key(loss={"relational": 1, "mse": 1}) == key(loss={"mse": 1.0, "relational": 1.0})


def test_fewer_training_sentences_retrain() -> None:
    """``train_sentences`` is in the training cache key like every recipe option."""
    assert len({key(), key(train_sentences=1000), key(train_sentences=2000)}) == 3


def test_a_changed_precision_retrains() -> None:
    """bfloat16 steps train another model than float32 ones: ``precision`` is in the training cache key."""
    assert key(precision="bf16") != key() == key(precision="fp32")


REFUSED = [
    (
        "unknown term",
        with_change("distill.loss", {"mse": 1.0, "kl": 1.0}),
        "distill.loss: unknown term 'kl' (allowed terms: mse, cosine, relational, contrastive)",
    ),
    (
        "negative weight",
        with_change("distill.loss", {"mse": -0.5}),
        "distill.loss: mse has a negative weight (allowed: 0 or more)",
    ),
    (
        "all weights 0",
        with_change("distill.loss", {"mse": 0, "cosine": 0.0}),
        "distill.loss: every weight is 0 (allowed: some of mse, cosine, relational, contrastive weighted above 0)",
    ),
    (
        "a student's unknown term",
        with_change("students", {"S": {"layers": [0], "distill": {"loss": {"contrastiv": 1}}}}),
        "students.S.distill.loss: unknown term 'contrastiv'",
    ),
    (
        "a precision torch does not train in here",
        with_change("students", {"S": {"layers": [0], "distill": {"precision": "fp16"}}}),
        "students.S.distill.precision: Input should be 'fp32', 'bf16' or 'auto' (got 'fp16')",
    ),
    (
        "temperature 0",
        with_change("distill.contrastive_temperature", 0),
        "distill.contrastive_temperature: Input should be greater than 0 (got 0)",
    ),
    (
        "one sentence a process",
        with_change("students", {"S": {"layers": [0], "distill": {"processes": 16, "loss": {"relational": 1}}}}),
        "students.S.distill.loss: relational compares the sentences of a batch, but a process takes 1 a step "
        "(distill.batch_size 16 / 16 processes; allowed: 2 or more, or no relational or contrastive term)",
    ),
]


@pytest.mark.parametrize(("case", "raw", "message"), REFUSED, ids=[case for case, _, _ in REFUSED])
def test_bad_losses_are_refused_in_one_line(case: str, raw: dict, message: str) -> None:
    with pytest.raises(ParamsError) as error:
        parse_params(raw, check_inputs=False)
    assert message in str(error.value) and len(str(error.value).splitlines()) == 1


def test_a_bad_loss_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(with_change("distill.loss", {"mse": 1.0, "kl": 1.0})))
    with pytest.raises(SystemExit) as exit_:
        load_or_exit(path, check_inputs=False)
    assert exit_.value.code == 2 and "distill.loss: unknown term 'kl'" in capsys.readouterr().err


def test_a_student_sets_its_own_loss() -> None:
    params = parse_params(
        with_change("students", {"S": {"layers": [0], "distill": {"loss": {"cosine": 1}}}, "T": {"layers": [1]}}),
        check_inputs=False,
    )
    assert params.distill_for("S").loss == {"cosine": 1.0} and params.distill_for("T").loss == {"mse": 1.0}
