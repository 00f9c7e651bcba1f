"""Bringing existing data into a project: readers per format family, and the import pipeline.

`records` (what a reader yields), `jsonish` (JSONL, JSON arrays), `tabular` (CSV/TSV, Parquet),
`hf` (Hugging Face datasets), `annotation_tools` (Prodigy, Label Studio, Argilla), `pipeline`
(`run_import`: mapping, validation, duplicates, the dry run and the commit).
"""

from brewslm_tui.core.importing.pipeline import (
    FORMATS,
    ImportOptions,
    ImportResult,
    Reject,
    rejected_dir,
    run_import,
)

__all__ = ["FORMATS", "ImportOptions", "ImportResult", "Reject", "rejected_dir", "run_import"]
