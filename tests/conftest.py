"""Fixtures shared by the whole suite: small real projects on disk."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

# re-exported: the core tests import them from here
from tests.helpers import REPO as REPO
from tests.helpers import SAMPLES as SAMPLES
from tests.helpers import make_rows as make_rows

PROJECT_TOML = """\
name = "tiny"
task = "classification"
scoring = "exact_match"
labels = ["positive", "negative", "neutral", "mixed"]
"""


@pytest.fixture
def tiny_project(tmp_path):
    """A classification project with no data yet: returns the loaded Project."""
    from brewslm_tui.core.project import load_project

    root = tmp_path / "tiny"
    (root / "data").mkdir(parents=True)
    (root / "brewslm.toml").write_text(PROJECT_TOML)
    (root / "data" / "imported.jsonl").write_text(
        '{"id": "imp-1", "prompt": "Classify: lovely", "completion": "positive", "source": "imported"}\n'
    )
    return load_project(root)


@pytest.fixture
def sample_copy(tmp_path):
    """Copy a bundled sample project into tmp_path (never touch the real one)."""

    def copy(name: str = "sentiment") -> Path:
        target = tmp_path / name
        shutil.copytree(SAMPLES / name, target, ignore=shutil.ignore_patterns(".brewslm"))
        return target

    return copy
