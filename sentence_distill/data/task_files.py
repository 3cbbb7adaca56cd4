"""The user's own evaluation tasks (``evaluate.tasks``) as their files hold them, read and checked the same way by
the validate stage (before any model loads) and the evaluate stages that score them.

A task of kind sts, pair_classification, classification or clustering is one table: a ``.tsv`` (a header row, a tab
between columns, no quoting), ``.csv`` (a header row), ``.jsonl`` (an object a line) or ``.parquet`` file, or a hub
dataset's split. A retrieval task is a BEIR folder: ``corpus.jsonl`` (``_id``, ``title``, ``text``),
``queries.jsonl`` (``_id``, ``text``) and ``qrels/<split>.tsv`` (``query-id``, ``corpus-id``, ``score``; a score
above 0 is relevant). Anything the scorers could not use, or would use silently wrong, is refused with one line
naming the task, the file and the problem: a missing file or column, an empty file, text that is not UTF-8, a blank
text, a label with a single class, an sts score outside its declared range, duplicate ids, qrels naming an id that is
not in the corpus or the queries, a query without a relevant document.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sentence_distill import assets
from sentence_distill.config.schema import OwnTask, PrepareParams
from sentence_distill.paths import TASK_INPUTS

TABLE_SUFFIXES = (".tsv", ".csv", ".jsonl", ".parquet")
CLASSIFICATION_FOLDS = 5  # the full classifier's stratified folds: every class needs this many texts at least
QRELS_COLUMNS = ("query-id", "corpus-id", "score")
HELD_OUT_FILE = "bbc-news.json"  # in a task folder built from BBC articles: which, and what sets them aside


class TaskFileError(ValueError):
    """A task file the pipeline cannot score; the message names the task, the file and the problem."""


@dataclass(frozen=True)
class ScoredPairs:
    """sts (``values``: scores) and pair_classification (``values``: 0 or 1) tasks."""

    first: list[str]
    second: list[str]
    values: list[float]


@dataclass(frozen=True)
class LabelledTexts:
    """classification and clustering tasks."""

    texts: list[str]
    labels: list[str]


@dataclass(frozen=True)
class RetrievalSet:
    """A retrieval task: the queries with a relevant document in the split, the whole corpus, the relevant ids."""

    queries: dict[str, str]
    corpus: dict[str, str]
    relevant: dict[str, set[str]]


TaskData = ScoredPairs | LabelledTexts | RetrievalSet


def task_texts(data: TaskData) -> list[str]:
    """Every text a model embeds to score the task."""
    if isinstance(data, ScoredPairs):
        return data.first + data.second
    if isinstance(data, LabelledTexts):
        return data.texts
    return list(data.queries.values()) + list(data.corpus.values())


@dataclass(frozen=True)
class Table:
    """A task file's rows (column -> value) and where each row is in the file, for the messages."""

    columns: list[str]
    rows: list[dict[str, Any]]
    places: list[str]  # "line 3" (a text file) or "row 3" (a Parquet file or a hub dataset)


def _utf8(path: Path, problem: Problem) -> str:
    data = path.read_bytes()
    if not data:
        raise problem("is empty (0 bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise problem(f"is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); save it as UTF-8") from None


def _jsonl(path: Path, problem: Problem) -> Table:
    rows, places, columns = [], [], {}
    for number, line in enumerate(_utf8(path, problem).split("\n"), start=1):  # not splitlines: JSON keeps U+2028
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise problem(f"line {number} is not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise problem(f"line {number} is not a JSON object")
        rows.append(row)
        places.append(f"line {number}")
        columns |= dict.fromkeys(row)
    return Table(list(columns), rows, places)


def _delimited(path: Path, problem: Problem) -> Table:
    csv.field_size_limit(sys.maxsize)
    tsv = path.suffix == ".tsv"
    reader = csv.DictReader(
        io.StringIO(_utf8(path, problem), newline=""),
        **({"delimiter": "\t", "quoting": csv.QUOTE_NONE} if tsv else {}),
    )
    rows, places = [], []
    for row in reader:
        rows.append(row)
        places.append(f"line {reader.line_num}")
    return Table(list(reader.fieldnames or []), rows, places)


def _parquet(path: Path, problem: Problem) -> Table:
    import pyarrow.parquet as pq

    if path.stat().st_size == 0:
        raise problem("is empty (0 bytes)")
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow's errors name no common base: any of them means an unreadable file
        raise problem(f"is not a readable Parquet file ({type(exc).__name__}: {exc})") from None
    return Table(table.column_names, table.to_pylist(), [f"row {n}" for n in range(1, table.num_rows + 1)])


def _hub_table(task: OwnTask, problem: Problem, subset: str | None = None, split: str | None = None) -> Table:
    """A hub dataset's split (the same checks follow); offline, the task cannot be read."""
    if assets.hub_offline():
        raise problem(
            "is a hub dataset id and the hub cannot be reached (offline); allowed offline: a local file or "
            "folder under inputs/tasks/"
        )
    import datasets

    table = datasets.load_dataset(task.data, subset or task.subset, split=split or task.split).data.table
    rows = table.to_pylist()
    return Table(table.column_names, rows, [f"row {n}" for n in range(1, len(rows) + 1)])


class Problem:
    """Makes the ``TaskFileError`` of one task and file: ``evaluate.tasks.<name>: <file> <problem>``."""

    def __init__(self, task: OwnTask, file: Path | str) -> None:
        self.prefix = f"evaluate.tasks.{task.name}: {Path(file).as_posix() if isinstance(file, Path) else file}"

    def __call__(self, text: str) -> TaskFileError:
        return TaskFileError(f"{self.prefix} {text}")


def read_table(path: Path, problem: Problem) -> Table:
    if not path.is_file():
        raise problem("does not exist" if not path.exists() else "is not a file")
    if path.suffix not in TABLE_SUFFIXES:
        raise problem(f"is not a {', '.join(TABLE_SUFFIXES[:-1])} or {TABLE_SUFFIXES[-1]} file")
    table = {".jsonl": _jsonl, ".parquet": _parquet}.get(path.suffix, _delimited)(path, problem)
    if not table.rows:
        raise problem("has no rows (a header at most)")
    return table


def is_local(ref: str) -> bool:
    """A task's ``data`` names a local file or folder, there or not; only an ``org/name`` that is not a local path
    nor a table file is a hub dataset id."""
    path = Path(ref).expanduser()
    return (
        path.exists()
        or assets.looks_local(ref)
        or path.suffix in TABLE_SUFFIXES
        or path.is_relative_to(TASK_INPUTS)
        or not assets.HUB_ID.fullmatch(ref)
    )


def _column(table: Table, key: str, column: str, problem: Problem) -> list[Any]:
    if column not in table.columns:
        raise problem(f"has no column {column!r} (columns: {', '.join(table.columns) or 'none'}; {key} names it)")
    return [row.get(column) for row in table.rows]


def _texts(table: Table, key: str, column: str, problem: Problem) -> list[str]:
    values = _column(table, key, column, problem)
    for place, value in zip(table.places, values, strict=True):
        if value is None or not str(value).strip():
            raise problem(f"{place}: {column} is blank")
    return [str(value) for value in values]


def _numbers(table: Table, column: str, values: list[Any], problem: Problem) -> list[float]:
    numbers = []
    for place, value in zip(table.places, values, strict=True):
        try:
            numbers.append(float(value))
        except (TypeError, ValueError):
            raise problem(f"{place}: {column} {value!r} is not a number") from None
    return numbers


def _classes(labels: list[Any], column: str, problem: Problem) -> Counter:
    counts = Counter(labels)
    if len(counts) < 2:
        raise problem(
            f"has a single class in {column} ({labels[0]!r} on all {len(labels)} rows): nothing to tell apart"
        )
    return counts


def read_table_task(task: OwnTask, shots: Sequence[int]) -> ScoredPairs | LabelledTexts:
    """The pairs or labelled texts of a task of kind sts, pair_classification, classification or clustering."""
    local = is_local(task.data)
    problem = Problem(task, Path(task.data) if local else task.data)
    table = read_table(Path(task.data).expanduser(), problem) if local else _hub_table(task, problem)
    if task.kind in ("classification", "clustering"):
        texts = _texts(table, "text_column", task.text_column, problem)
        labels = _texts(table, "label_column", task.label_column, problem)
        counts = _classes(labels, task.label_column, problem)
        need = max(max(shots) + 1, CLASSIFICATION_FOLDS)
        label, fewest = min(counts.items(), key=lambda item: item[1])
        if task.kind == "classification" and fewest < need:
            raise problem(
                f"has {fewest} texts of class {label!r}: every class needs {need} at least (the few-shot classifier "
                f"trains on up to {max(shots)} a class, evaluate.classification_shots, and tests on the rest)"
            )
        return LabelledTexts(texts, labels)
    first = _texts(table, "sentence1_column", task.sentence1_column, problem)
    second = _texts(table, "sentence2_column", task.sentence2_column, problem)
    if task.kind == "pair_classification":
        raw = _column(table, "label_column", task.label_column, problem)
        values = []
        for place, value in zip(table.places, raw, strict=True):
            if str(value).strip() not in ("0", "1", "0.0", "1.0", "False", "True"):
                raise problem(f"{place}: {task.label_column} {value!r} is not 0 or 1")
            values.append(float(str(value).strip() in ("1", "1.0", "True")))
        _classes(values, task.label_column, problem)
        return ScoredPairs(first, second, values)
    values = _numbers(table, task.score_column, _column(table, "score_column", task.score_column, problem), problem)
    low, high = task.score_range
    outside = [(place, v) for place, v in zip(table.places, values, strict=True) if not low <= v <= high]
    if outside:
        raise problem(
            f"{outside[0][0]}: {task.score_column} {outside[0][1]:g} is outside score_range [{low:g}, {high:g}] "
            f"({len(outside)} of {len(values)} rows)"
        )
    if len(set(values)) < 2:
        raise problem(f"has the same {task.score_column} on all {len(values)} rows: no order to correlate with")
    return ScoredPairs(first, second, values)


def _documents(table: Table, problem: Problem, fields: tuple[str, ...]) -> dict[str, str]:
    """``_id`` -> text of a corpus or queries table (a corpus document: its title and text)."""
    ids = [str(v) for v in _column(table, "the BEIR layout", "_id", problem)]
    _column(table, "the BEIR layout", "text", problem)
    seen: dict[str, str] = {}
    for place, identifier in zip(table.places, ids, strict=True):
        if identifier in seen:
            raise problem(f"{place}: _id {identifier!r} is repeated (first on {seen[identifier]})")
        seen[identifier] = place
    texts = {}
    for place, identifier, row in zip(table.places, ids, table.rows, strict=True):
        text = " ".join(str(row.get(f) or "").strip() for f in fields).strip()
        if not text:
            raise problem(
                f"{place}: the {' and '.join(fields)} of _id {identifier!r} {'are' if len(fields) > 1 else 'is'} blank"
            )
        texts[identifier] = text
    return texts


def _qrels(table: Table, problem: Problem) -> Iterator[tuple[str, str, str, int]]:
    columns = [_column(table, "the BEIR layout", name, problem) for name in QRELS_COLUMNS]
    for place, query, document, score in zip(table.places, *columns, strict=True):
        try:
            grade = int(str(score).strip())
        except ValueError:
            raise problem(f"{place}: score {score!r} is not an integer") from None
        yield place, str(query).strip(), str(document).strip(), grade


def read_retrieval_task(task: OwnTask) -> RetrievalSet:
    """A BEIR folder (or a hub dataset of the MTEB layout: subsets corpus, queries and default, the qrels)."""
    folder = Path(task.data).expanduser()
    local = is_local(task.data)
    if local and not folder.is_dir():
        raise Problem(task, folder)("does not exist" if not folder.exists() else "is not a folder (a BEIR folder)")

    def table(name: str, hub: tuple[str, str]) -> tuple[Table, Problem]:
        problem = Problem(task, folder / name if local else f"{task.data} ({hub[0]})")
        return (read_table(folder / name, problem) if local else _hub_table(task, problem, *hub)), problem

    corpus = _documents(*table("corpus.jsonl", ("corpus", "corpus")), ("title", "text"))
    queries = _documents(*table("queries.jsonl", ("queries", "queries")), ("text",))
    qrels, problem = table(f"qrels/{task.split}.tsv", ("default", task.split))
    relevant: dict[str, set[str]] = {}
    for place, query, document, grade in _qrels(qrels, problem):
        if query not in queries:
            raise problem(f"{place}: query-id {query!r} is not in queries.jsonl")
        if document not in corpus:
            raise problem(f"{place}: corpus-id {document!r} is not in corpus.jsonl")
        found = relevant.setdefault(query, set())
        if grade > 0:
            found.add(document)
    unjudged = [query for query, found in relevant.items() if not found]
    if unjudged:
        raise problem(
            f"query {unjudged[0]!r} has no relevant document (no score above 0; {len(unjudged)} of {len(relevant)} "
            "queries)"
        )
    if local:
        named = set(relevant)
        for other in sorted((folder / "qrels").glob("*.tsv")):
            if other.name != f"{task.split}.tsv":
                named |= {q for _, q, _, _ in _qrels(read_table(other, Problem(task, other)), Problem(task, other))}
        orphans = [query for query in queries if query not in named]
        if orphans:
            raise Problem(task, folder / "queries.jsonl")(
                f"has {len(orphans)} of {len(queries)} queries that no qrels file names (first: {orphans[0]!r}): a "
                "query without a relevant document"
            )
    return RetrievalSet({q: queries[q] for q in relevant}, corpus, relevant)


def check_held_out(task: OwnTask, prepare: PrepareParams) -> None:
    """A task built from the BBC articles prepare sets aside (its folder's ``bbc-news.json``, or the one beside its
    file, lists them, with the ``prepare.seed`` and ``documents_per_topic`` that set them aside) is refused when
    prepare would distill on some of them: each topic's set-aside articles are the first ``documents_per_topic`` of
    a permutation drawn from the seed alone, so the same seed and as many articles or more keep every one of them
    out of the distillation corpus."""
    data = Path(task.data).expanduser()
    record = (data if data.is_dir() else data.parent) / HELD_OUT_FILE
    if prepare.corpus != assets.BBC_NEWS or not is_local(task.data) or not record.is_file():
        return
    made = json.loads(record.read_text(encoding="utf-8"))["set_aside_by"]
    if prepare.seed != made["seed"] or prepare.documents_per_topic < made["documents_per_topic"]:
        raise Problem(task, record)(
            f"lists BBC articles prepare sets aside with prepare.seed={made['seed']} and documents_per_topic "
            f"{made['documents_per_topic']} or more; with seed {prepare.seed} and {prepare.documents_per_topic} some "
            "would be distilled on: set those back, or rebuild the task (python -m bench.make_example_task)"
        )


def read_task(task: OwnTask, shots: Sequence[int]) -> TaskData:
    """The task's data, checked (``TaskFileError`` names the task, the file and the problem)."""
    return read_retrieval_task(task) if task.kind == "retrieval" else read_table_task(task, shots)
