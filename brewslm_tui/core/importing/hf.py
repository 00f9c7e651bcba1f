"""Hugging Face `datasets`: a `save_to_disk` folder, or files `load_dataset` reads (with the extra).

Class labels (`ClassLabel` features, stored as integers) are given by name, so a sentiment
dataset's `label` column says "positive", not 1.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from brewslm_tui.core.importing.records import ImportFormatError, Record, needs_extra

SAVED_MARKERS = ("dataset_dict.json", "state.json")  # what save_to_disk writes
BUILDERS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".parquet": "parquet",
    ".arrow": "arrow",
}


def is_saved_dataset(path: Path) -> bool:
    return path.is_dir() and any((path / m).exists() for m in SAVED_MARKERS)


def read_hf(path: Path) -> Iterator[Record]:
    """Every split of the dataset, in order; `where` names the split and the row."""
    try:
        import datasets
    except ImportError:
        raise needs_extra("a Hugging Face dataset", "datasets") from None
    cache = tempfile.mkdtemp(prefix="brewslm-import-")  # load_dataset's cache: gone when read
    try:
        yield from _records(datasets, path, cache)
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def _records(datasets, path: Path, cache: str) -> Iterator[Record]:
    try:
        if is_saved_dataset(path):
            loaded = datasets.load_from_disk(str(path))
        elif path.is_dir():
            loaded = datasets.load_dataset(str(path), cache_dir=cache)
        else:
            builder = BUILDERS.get(path.suffix.lower())
            if builder is None:
                raise ImportFormatError(f"{path}: not a file type datasets.load_dataset reads")
            kwargs = {"delimiter": "\t"} if path.suffix.lower() == ".tsv" else {}
            loaded = datasets.load_dataset(builder, data_files=str(path), cache_dir=cache, **kwargs)
    except ImportFormatError:
        raise
    except Exception as exc:  # datasets raises many types (FileNotFoundError, DatasetGenerationError...)
        raise ImportFormatError(f"{path}: cannot be read as a Hugging Face dataset ({exc})") from None
    splits = loaded.items() if isinstance(loaded, datasets.DatasetDict) else [("", loaded)]
    for split, dataset in splits:
        names = {
            column: feature.names
            for column, feature in dataset.features.items()
            if isinstance(feature, datasets.ClassLabel)
        }
        prefix = f"{path.name}[{split}]" if split else path.name
        for n, fields in enumerate(dataset, start=1):
            for column, label_names in names.items():
                value = fields.get(column)
                if isinstance(value, int) and 0 <= value < len(label_names):
                    fields[column] = label_names[value]
            yield Record(f"{prefix}:row {n}", fields=fields)
