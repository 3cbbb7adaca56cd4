"""Parallel sentences as the params name them: a table of sources and their translations, read and checked the
same way by the validate stage (before any model loads) and the prepare stage. It reads the whole table, so the
other stages do not check it at their start.

A ``.tsv`` file with a header row (no quoting: a tab separates the columns, a line ends a row), a ``.parquet``
file, or a hub dataset id (the ``train`` split of its ``subset``). An optional ``lang`` column is kept beside the
two sides.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from sentence_distill import assets
from sentence_distill.config.schema import ParallelParams

LANG_COLUMN = "lang"


class ParallelFileError(ValueError):
    """A parallel file the pipeline cannot use; the message names the key."""


def _tsv_table(path: Path) -> pa.Table:
    csv.field_size_limit(sys.maxsize)
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
            rows = list(reader)
            columns = reader.fieldnames or []
    except UnicodeDecodeError as exc:
        raise ParallelFileError(
            f"prepare.parallel.file: {path} is not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    return pa.table({name: [row.get(name) for row in rows] for name in columns})


def read_pairs(params: ParallelParams) -> pa.Table:
    """The file's source and target columns (and ``lang`` when present) as they are; ``ParallelFileError`` for a
    file that is missing, of another kind, without either column or row, or with one side blank on every row."""
    ref, path = params.file, Path(params.file).expanduser()
    if path.is_file():
        if path.suffix not in {".tsv", ".parquet"}:
            raise ParallelFileError(f"prepare.parallel.file: {ref!r} is not a .tsv or .parquet file")
        if path.stat().st_size == 0:
            raise ParallelFileError(f"prepare.parallel.file: file {ref!r} is empty (0 bytes)")
        table = _tsv_table(path) if path.suffix == ".tsv" else pq.read_table(path)
    elif assets.looks_local(ref) or path.exists():
        raise ParallelFileError(f"prepare.parallel.file: file {ref!r} does not exist")
    elif assets.hub_offline():
        raise ParallelFileError(
            f"prepare.parallel.file: {ref!r} is a hub dataset id and the hub cannot be reached (offline); "
            "allowed offline: a local .tsv or .parquet file under inputs/data/"
        )
    else:
        import datasets

        table = datasets.load_dataset(ref, params.subset, split="train").data.table
    for key, column in (("source_column", params.source_column), ("target_column", params.target_column)):
        if column not in table.column_names:
            raise ParallelFileError(
                f"prepare.parallel.{key}: column {column!r} not in {ref} "
                f"(columns: {', '.join(table.column_names) or 'none'})"
            )
    if table.num_rows == 0:
        raise ParallelFileError(f"prepare.parallel.file: {ref} has no rows (a header at most)")
    columns = {"source": params.source_column, "target": params.target_column}
    if LANG_COLUMN in table.column_names and LANG_COLUMN not in columns.values():
        columns[LANG_COLUMN] = LANG_COLUMN
    pairs = pa.table(
        {name: [None if v is None else str(v) for v in table[column].to_pylist()] for name, column in columns.items()}
    )
    for side in ("source", "target"):
        if not any(text and text.strip() for text in pairs[side].to_pylist()):
            raise ParallelFileError(
                f"prepare.parallel.{side}_column: column {columns[side]!r} of {ref} is blank on every one of its "
                f"{pairs.num_rows} rows"
            )
    return pairs


def both_sides(source: str | None, target: str | None) -> bool:
    """Whether a pair has text on both sides (a pair with a blank side is dropped, and counted)."""
    return bool(source and source.strip() and target and target.strip())


def check_parallel_file(params: ParallelParams) -> None:
    """``read_pairs``, and more pairs with both sides than the held-out and dev slices take."""
    pairs = read_pairs(params)
    usable = sum(
        both_sides(s, t) for s, t in zip(pairs["source"].to_pylist(), pairs["target"].to_pylist(), strict=True)
    )
    if usable <= params.heldout_pairs + params.dev_pairs:
        raise ParallelFileError(
            f"prepare.parallel.heldout_pairs: {params.heldout_pairs} and dev_pairs {params.dev_pairs} leave no pair to "
            f"train on: {params.file} has {usable} pairs with both sides (of {pairs.num_rows} rows); allowed: together "
            f"below {usable}"
        )
