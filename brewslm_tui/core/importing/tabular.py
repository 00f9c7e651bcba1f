"""Tables: CSV and TSV (quotes and newlines inside fields), and Parquet (with the `import` extra)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from brewslm_tui.core.importing.records import ImportFormatError, Record, needs_extra

MAX_FIELD = 64 << 20  # csv's default limit (128 KiB) would refuse a long document
PARQUET_BATCH = 4096


def read_delimited(path: Path, delimiter: str) -> Iterator[Record]:
    """One record per CSV/TSV row after the header, named by the line it starts on."""
    csv.field_size_limit(MAX_FIELD)
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f, delimiter=delimiter)
            try:
                header = next(reader)
            except StopIteration:
                return
            if len(set(header)) != len(header) or not all(h.strip() for h in header):
                raise ImportFormatError(f"{path}:1: the header needs distinct, non-empty column names")
            line = reader.line_num + 1
            for values in reader:
                where = f"{path.name}:{line}"
                line = reader.line_num + 1
                if not any(v.strip() for v in values):
                    continue
                if len(values) != len(header):
                    yield Record(
                        where,
                        problem=f"{len(values)} fields where the header has {len(header)}",
                        raw=delimiter.join(values),
                    )
                    continue
                # a line break inside a quoted field keeps the file's \r\n: text rows use \n
                values = [v.replace("\r\n", "\n") for v in values]
                yield Record(where, fields=dict(zip(header, values, strict=True)))
    except UnicodeDecodeError as exc:
        raise ImportFormatError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise ImportFormatError(f"{path}:{reader.line_num}: {exc}") from None


def read_parquet(path: Path) -> Iterator[Record]:
    """One record per row of a Parquet file, read a batch at a time."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise needs_extra("Parquet", "pyarrow") from None
    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises its own error types for a file that is not Parquet
        raise ImportFormatError(f"{path}: not a Parquet file ({exc})") from None
    n = 0
    for batch in parquet.iter_batches(batch_size=PARQUET_BATCH):
        for fields in batch.to_pylist():
            n += 1
            yield Record(f"{path.name}:row {n}", fields=fields)
