"""An export hands the mapped file's pages it has read past back to the kernel
(`_rows_released_as_read`): the rows and the files are the same as without, for one file and for
a split (whose second pass reads released pages again), and the pages are in fact released."""

from __future__ import annotations

import mmap

import orjson
import pytest

from brewslm_tui.core import export as export_module
from brewslm_tui.core.export import ExportOptions, approved_slots, export
from brewslm_tui.core.store.store import Store
from tests.helpers import make_project, make_rows


def big_project(tmp_path):
    rows = make_rows(3000)
    for k, row in enumerate(rows):
        row["prompt"] += " " + "padding " * 40  # about 400 bytes a line: many pages
        if k % 3 == 0:
            row["review_status"] = "approved"
    project = make_project(tmp_path)
    project.synthetic_path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return project


def export_all(project, out_dir, **options):
    with Store.open(project, readonly=True) as store:
        one = export(store, out_dir / "one.jsonl", ExportOptions(**options))
    with Store.open(project, readonly=True) as store:
        split = export(
            store, out_dir / "split", ExportOptions(split={"train": 0.7, "validation": 0.3}, **options)
        )
    files = [f.path.read_bytes() for f in one.files + split.files]
    return files, [f.sha256 for f in one.files + split.files]


@pytest.mark.parametrize("fmt", ["prompt-completion", "raw"])
def test_released_pages_change_nothing(tmp_path, monkeypatch, fmt):
    project = big_project(tmp_path)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.setattr(export_module, "RELEASE_ROWS", 1 << 30)  # never released
    plain = export_all(project, tmp_path / "a", format=fmt)
    monkeypatch.setattr(export_module, "RELEASE_ROWS", 7)
    monkeypatch.setattr(export_module, "RELEASE_BYTES", mmap.PAGESIZE)
    released = export_all(project, tmp_path / "b", format=fmt)
    assert released == plain
    with Store.open(project, readonly=True) as store:
        slots = approved_slots(store)
        assert list(export_module._rows_released_as_read(store, slots)) == list(store.rows(slots))


def test_pages_are_released(tmp_path, monkeypatch):
    project = big_project(tmp_path)
    monkeypatch.setattr(export_module, "RELEASE_ROWS", 50)
    monkeypatch.setattr(export_module, "RELEASE_BYTES", mmap.PAGESIZE)
    calls = []
    with Store.open(project, readonly=True) as store:
        buf = store.file.buf

        class Spy:
            def __getattr__(self, name):
                return getattr(buf, name)

            def __getitem__(self, key):
                return buf[key]

            def madvise(self, advice, start, length):
                calls.append((advice, start, length))
                return buf.madvise(advice, start, length)

        store.file.buf = Spy()
        try:
            n = sum(1 for _ in export_module._rows_released_as_read(store, approved_slots(store)))
        finally:
            store.file.buf = buf
    assert n == 1000
    assert calls and all(advice == mmap.MADV_DONTNEED for advice, _, _ in calls)
    ends = [start + length for _, start, length in calls]
    assert [start for _, start, _ in calls] == [0, *ends[:-1]]  # in order, each once
