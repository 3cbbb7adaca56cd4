"""Bad own-task files stop ``python -m tasks.validate`` (the first stage of both drivers, ``make validate``) before any
model loads: exit 2, one line naming the task, the file and the problem, nothing written. The example task the
default profile ships passes, and stays out of the distillation corpus."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from sentence_distill.config.load import ParamsError, parse_params
from sentence_distill.data.sources import evaluation_articles
from sentence_distill.data.task_files import HELD_OUT_FILE
from tests.project import ROOT, TEST_ENV, run
from tests.tiny_params import TINY

HEADER = "error: invalid params in params.yaml:"
TOPICS = "text\tlabel\n" + "".join(f"Article {n} about {t}.\t{t}\n" for t in ("sport", "politics") for n in range(9))
PAIRS = "sentence1\tsentence2\tscore\nA man plays.\tA man is playing.\t4.5\nA cat.\tThe market fell.\t0.5\n"
CORPUS = '{"_id": "d1", "title": "Guitars", "text": "A man plays."}\n{"_id": "d2", "text": "A cat sleeps."}\n'
QUERIES = '{"_id": "q1", "text": "Who plays?"}\n{"_id": "q2", "text": "What sleeps?"}\n'
QRELS = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n"
BEIR = {"beir/corpus.jsonl": CORPUS, "beir/queries.jsonl": QUERIES, "beir/qrels/test.tsv": QRELS}


def topics(**task) -> dict:
    return {"name": "topics", "kind": "classification", "data": "inputs/tasks/topics.tsv", **task}


def sts(**task) -> dict:
    return {"name": "pairs", "kind": "sts", "data": "inputs/tasks/pairs.tsv", "score_range": [0, 5], **task}


def search(**task) -> dict:
    return {"name": "search", "kind": "retrieval", "data": "inputs/tasks/beir", **task}


BAD_TASKS = [  # (case, files under inputs/tasks/, the task, the one line after the header)
    ("missing file", {}, topics(), "evaluate.tasks.topics: inputs/tasks/topics.tsv does not exist"),
    (
        "missing column",
        {"topics.tsv": TOPICS.replace("text\tlabel", "text\tcategory")},
        topics(),
        "evaluate.tasks.topics: inputs/tasks/topics.tsv has no column 'label' (columns: text, category; "
        "label_column names it)",
    ),
    ("empty file", {"topics.tsv": ""}, topics(), "evaluate.tasks.topics: inputs/tasks/topics.tsv is empty (0 bytes)"),
    (
        "a header only",
        {"topics.tsv": "text\tlabel\n"},
        topics(),
        "evaluate.tasks.topics: inputs/tasks/topics.tsv has no rows (a header at most)",
    ),
    (
        "a single class",
        {"topics.tsv": TOPICS.replace("politics", "sport")},
        topics(kind="clustering"),
        "evaluate.tasks.topics: inputs/tasks/topics.tsv has a single class in label ('sport' on all 18 rows): "
        "nothing to tell apart",
    ),
    (
        "too few texts of a class",
        {"topics.tsv": TOPICS.replace("Article 8 about sport.\tsport\n", "")},
        topics(),
        "evaluate.tasks.topics: inputs/tasks/topics.tsv has 8 texts of class 'sport': every class needs 9 at least "
        "(the few-shot classifier trains on up to 8 a class, evaluate.classification_shots, and tests on the rest)",
    ),
    (
        "a blank text",
        {"topics.tsv": TOPICS.replace("Article 3 about sport.", " ")},
        topics(),
        "evaluate.tasks.topics: inputs/tasks/topics.tsv line 5: text is blank",
    ),
    (
        "a score outside its range",
        {"pairs.tsv": PAIRS.replace("0.5", "6")},
        sts(),
        "evaluate.tasks.pairs: inputs/tasks/pairs.tsv line 3: score 6 is outside score_range [0, 5] (1 of 2 rows)",
    ),
    (
        "a label not 0 or 1",
        {"pairs.tsv": PAIRS.replace("score", "label").replace("4.5", "1").replace("0.5", "yes")},
        {"name": "pairs", "kind": "pair_classification", "data": "inputs/tasks/pairs.tsv"},
        "evaluate.tasks.pairs: inputs/tasks/pairs.tsv line 3: label 'yes' is not 0 or 1",
    ),
    (
        "not UTF-8",
        {"pairs.tsv": PAIRS.replace("A cat.", "Un caf\udce9.")},
        sts(),
        "evaluate.tasks.pairs: inputs/tasks/pairs.tsv is not UTF-8 text (byte 0xe9 on line 3); save it as UTF-8",
    ),
    (
        "qrels naming a document not in the corpus",
        {**BEIR, "beir/qrels/test.tsv": QRELS.replace("q2\td2", "q2\td9")},
        search(),
        "evaluate.tasks.search: inputs/tasks/beir/qrels/test.tsv line 3: corpus-id 'd9' is not in corpus.jsonl",
    ),
    (
        "qrels naming a query not in the queries",
        {**BEIR, "beir/qrels/test.tsv": QRELS + "q7\td1\t1\n"},
        search(),
        "evaluate.tasks.search: inputs/tasks/beir/qrels/test.tsv line 4: query-id 'q7' is not in queries.jsonl",
    ),
    (
        "a repeated document id",
        {**BEIR, "beir/corpus.jsonl": CORPUS + '{"_id": "d1", "text": "Again."}\n'},
        search(),
        "evaluate.tasks.search: inputs/tasks/beir/corpus.jsonl line 3: _id 'd1' is repeated (first on line 1)",
    ),
    (
        "a repeated query id",
        {**BEIR, "beir/queries.jsonl": QUERIES.replace('"q2"', '"q1"')},
        search(),
        "evaluate.tasks.search: inputs/tasks/beir/queries.jsonl line 2: _id 'q1' is repeated (first on line 1)",
    ),
    (
        "a query judged with no relevant document",
        {**BEIR, "beir/qrels/test.tsv": QRELS.replace("q2\td2\t1", "q2\td2\t0")},
        search(),
        "evaluate.tasks.search: inputs/tasks/beir/qrels/test.tsv query 'q2' has no relevant document "
        "(no score above 0; 1 of 2 queries)",
    ),
    (
        "a query no qrels file names",
        {**BEIR, "beir/queries.jsonl": QUERIES + '{"_id": "q3", "text": "Anyone?"}\n'},
        search(),
        "evaluate.tasks.search: inputs/tasks/beir/queries.jsonl has 1 of 3 queries that no qrels file names (first: "
        "'q3'): a query without a relevant document",
    ),
    ("a missing BEIR folder", {}, search(), "evaluate.tasks.search: inputs/tasks/beir does not exist"),
    (
        "a missing qrels file",
        {"beir/corpus.jsonl": CORPUS, "beir/queries.jsonl": QUERIES},
        search(),
        "evaluate.tasks.search: inputs/tasks/beir/qrels/test.tsv does not exist",
    ),
    (
        "non-UTF-8 corpus",
        {**BEIR, "beir/corpus.jsonl": CORPUS.replace("sleeps", "dort \udce9")},
        search(),
        "evaluate.tasks.search: inputs/tasks/beir/corpus.jsonl is not UTF-8 text (byte 0xe9 on line 2); "
        "save it as UTF-8",
    ),
]


def project(root: Path, files: dict[str, str], tasks: list[dict], **prepare) -> Path:
    """A temporary project: the tiny profile with ``tasks`` as evaluate.tasks, the files under inputs/tasks/."""
    for name, text in files.items():
        (root / "inputs" / "tasks" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "inputs" / "tasks" / name).write_bytes(text.encode("utf-8", "surrogateescape"))
    params = {**TINY, "evaluate": {**TINY["evaluate"], "tasks": tasks}, "prepare": {**TINY["prepare"], **prepare}}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return root


def validate(root: Path):
    return run(["python", "-m", "tasks.validate"], root, check=False, env={**TEST_ENV, "PYTHONPATH": str(ROOT)})


def assert_refused(root: Path, line: str) -> None:
    result = validate(root)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [HEADER, line]
    assert not (root / "data").exists()  # nothing written


@pytest.mark.parametrize(("case", "files", "task", "line"), BAD_TASKS, ids=[c[0] for c in BAD_TASKS])
def test_a_bad_task_file_stops_validate(tmp_path: Path, case: str, files: dict, task: dict, line: str) -> None:
    assert_refused(project(tmp_path, files, [task]), line)


def test_good_task_files_pass(tmp_path: Path) -> None:
    root = project(tmp_path, {"topics.tsv": TOPICS, "pairs.tsv": PAIRS, **BEIR}, [topics(), sts(), search()])
    result = validate(root)
    assert result.returncode == 0, result.stderr
    assert (root / "data" / "validated.json").is_file()


def test_task_files_lie_under_inputs_tasks(tmp_path: Path) -> None:
    """dvc.yaml lists inputs/tasks as a dep of the evaluations: a file elsewhere would not rerun them."""
    (tmp_path / "topics.tsv").write_text(TOPICS)
    root = project(tmp_path, {}, [topics(data="topics.tsv")])
    assert_refused(
        root,
        "evaluate.tasks.topics.data: local path 'topics.tsv' is outside inputs/tasks/, where DVC sees when an input "
        "changes; copy it there (a file may be a symlink) or name a packaged or hub input instead",
    )


def test_a_hub_dataset_cannot_be_read_offline(tmp_path: Path) -> None:
    root = project(tmp_path, {}, [sts(data="someone/faq-pairs")])
    result = run(
        ["python", "-m", "tasks.validate"],
        root,
        check=False,
        env={**TEST_ENV, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 2 and result.stderr.strip().splitlines() == [
        HEADER,
        "evaluate.tasks.pairs: someone/faq-pairs is a hub dataset id and the hub cannot be reached (offline); "
        "allowed offline: a local file or folder under inputs/tasks/",
    ]


def test_task_names_are_unique_and_not_a_figure(tmp_path: Path) -> None:
    root = project(tmp_path, {"topics.tsv": TOPICS}, [topics(), topics(), topics(name="own")])
    result = validate(root)
    assert result.returncode == 2 and result.stderr.strip().splitlines()[1:] == [
        "evaluate.tasks: the name 'topics' is given to 2 tasks (allowed: one task a name)",
        "evaluate.tasks.own: the name 'own' is reserved for the select.rank_on figure (choose another)",
    ]


EXAMPLE = ROOT / "inputs" / "tasks" / "bbc_titles"
DEFAULT = yaml.safe_load((ROOT / "params.yaml").read_text())


def test_the_example_task_passes_validation_in_the_default_profile(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "inputs" / "tasks" / "bbc_titles")
    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    assert [t["data"] for t in DEFAULT["evaluate"]["tasks"]] == ["inputs/tasks/bbc_titles"]
    result = validate(tmp_path)
    assert result.returncode == 0, result.stderr


def test_the_example_task_is_made_of_articles_never_distilled_on() -> None:
    """Its articles are among those prepare sets aside with the default profile's seed and documents_per_topic (and
    the bbc-news corpus leaves out); each topic's are a prefix of a permutation drawn from the seed, so more
    articles a topic set aside keep them all out; another seed does not."""
    record = json.loads((EXAMPLE / HELD_OUT_FILE).read_text())
    prepare = DEFAULT["prepare"]
    assert record["set_aside_by"] == {"seed": prepare["seed"], "documents_per_topic": prepare["documents_per_topic"]}
    set_aside = {f"{topic}/{path.name}" for path, topic in evaluation_articles(prepare["documents_per_topic"], 42)}
    assert set(record["articles"]) <= set_aside and len(record["articles"]) > 400
    more = {f"{topic}/{path.name}" for path, topic in evaluation_articles(prepare["documents_per_topic"] + 20, 42)}
    assert set_aside < more
    other_seed = {f"{topic}/{path.name}" for path, topic in evaluation_articles(prepare["documents_per_topic"], 7)}
    assert not set(record["articles"]) <= other_seed
    queries = [json.loads(line) for line in (EXAMPLE / "queries.jsonl").read_text().splitlines()]
    assert len(queries) == len(record["articles"])


@pytest.mark.parametrize(
    ("change", "shown"), [({"seed": 7}, "seed 7 and 100"), ({"documents_per_topic": 60}, "seed 42 and 60")]
)
def test_the_example_task_is_refused_when_prepare_would_distill_on_its_articles(
    tmp_path: Path, change: dict, shown: str
) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "inputs" / "tasks" / "bbc_titles")
    task = {"name": "bbc_titles", "kind": "retrieval", "data": "inputs/tasks/bbc_titles"}
    root = project(tmp_path, {}, [task], **{"documents_per_topic": 100, **change})
    assert_refused(
        root,
        "evaluate.tasks.bbc_titles: inputs/tasks/bbc_titles/bbc-news.json lists BBC articles prepare sets aside with "
        f"prepare.seed=42 and documents_per_topic 100 or more; with {shown} some would be distilled on: set those "
        "back, or rebuild the task (python -m bench.make_example_task)",
    )


def test_a_task_file_beside_its_articles_record_is_refused_as_its_folder_would_be(tmp_path: Path) -> None:
    """The tiny profile's pair task is a file; the bbc-news.json beside it says which articles it is made of."""
    pairs = next(t for t in TINY["evaluate"]["tasks"] if t["kind"] == "pair_classification")
    for root in (tmp_path / "as-made", tmp_path / "fewer"):
        shutil.copytree(ROOT / Path(pairs["data"]).parent, root / Path(pairs["data"]).parent)
    assert validate(project(tmp_path / "as-made", {}, [pairs])).returncode == 0
    assert_refused(
        project(tmp_path / "fewer", {}, [pairs], documents_per_topic=10),
        f"evaluate.tasks.title_pairs: {Path(pairs['data']).parent}/bbc-news.json lists BBC articles prepare sets aside "
        "with prepare.seed=42 and documents_per_topic 20 or more; with seed 42 and 10 some would be distilled on: set "
        "those back, or rebuild the task (python -m bench.make_example_task)",
    )


def with_tasks(tasks: list[dict], rank_on: str = "stsb") -> dict:
    return {**TINY, "evaluate": {**TINY["evaluate"], "tasks": tasks}, "select": {**TINY["select"], "rank_on": rank_on}}


@pytest.mark.parametrize(
    ("tasks", "line"),
    [
        ([sts(score_range=None)], "evaluate.tasks.0: Value error, an sts task needs score_range: [lowest, highest]"),
        ([sts(score_range=[5, 0])], "evaluate.tasks.0: Value error, an sts task needs score_range: [lowest, highest]"),
        ([topics(score_column="s")], "evaluate.tasks.0: Value error, score_column does not apply to a classification"),
        ([topics(columns="s")], "evaluate.tasks.0.columns: unknown key (allowed keys: name, kind, data, split, subset"),
        ([topics(kind="ranking")], "evaluate.tasks.0.kind: Input should be 'sts', 'pair_classification', "),
        ([topics(name="faq-search")], "evaluate.tasks.0.name: String should match pattern '^[A-Za-z0-9_]+$'"),
    ],
)
def test_a_task_says_what_it_is_in_its_own_keys(tasks: list[dict], line: str) -> None:
    with pytest.raises(ParamsError) as raised:
        parse_params(with_tasks(tasks), check_inputs=False)
    assert str(raised.value).startswith(line)


def test_select_ranks_on_an_own_task_or_their_mean_only_when_there_are_tasks() -> None:
    for rank_on in ("stsb", "average", "topics", "pairs", "own"):
        assert parse_params(with_tasks([topics(), sts()], rank_on), check_inputs=False).select.rank_on == rank_on
    allowed = r"\(allowed: stsb, average, topics, own\)"
    with pytest.raises(ParamsError, match=rf"'bogus' is not a figure to rank on {allowed}"):
        parse_params(with_tasks([topics()], "bogus"), check_inputs=False)
    with pytest.raises(ParamsError, match=r"'own' is not a figure to rank on \(allowed: stsb, average\)"):
        parse_params(with_tasks([], "own"), check_inputs=False)
