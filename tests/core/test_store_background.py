"""A big file with no column cache opens partly at once; a child process builds the cache;
decisions made meanwhile survive the switch to the full columns."""

from __future__ import annotations

from brewslm_tui.core import column_cache
from brewslm_tui.core.store import Store, append_rows
from tests.conftest import make_rows


def test_partial_open_then_full_load_keeps_decisions(tiny_project, monkeypatch):
    append_rows(tiny_project, make_rows(30000))
    monkeypatch.setattr(Store, "BACKGROUND_BYTES", 1 << 20)
    monkeypatch.setattr(Store, "PARTIAL_BYTES", 64 << 10)
    store = Store.open(tiny_project, background=True)
    try:
        assert not store.loaded and 0 < len(store) < 30000
        first = store.id_of(0)
        store.approve([0, 1])
        store.reject([2], "minor_typo")
        new = store.finish_loading()
        assert store.loaded and len(store) == 30000 and new == range(0, 30000)
        assert store.id_of(0) == first
        assert store.counts() == {"pending": 29997, "approved": 2, "rejected": 1, "dropped": 0}
        assert column_cache.cache_path(tiny_project.state_dir).exists()
        store.compact()
    finally:
        store.close()
    # with the cache in place the next open is complete at once
    again = Store.open(tiny_project, background=True)
    assert again.loaded and len(again) == 30000 and again.counts()["approved"] == 2
    again.close()


def test_refresh_switches_to_full_columns_when_the_builder_is_done(tiny_project, monkeypatch):
    append_rows(tiny_project, make_rows(25000))
    monkeypatch.setattr(Store, "BACKGROUND_BYTES", 1 << 20)
    monkeypatch.setattr(Store, "PARTIAL_BYTES", 64 << 10)
    with Store.open(tiny_project, readonly=True, background=True) as store:
        assert not store.loaded
        store._builder.wait()
        assert store.refresh() == range(0, 25000) and store.loaded


def test_compaction_while_partly_loaded_loses_no_row(tiny_project, monkeypatch):
    append_rows(tiny_project, make_rows(22000))
    monkeypatch.setattr(Store, "BACKGROUND_BYTES", 1 << 20)
    monkeypatch.setattr(Store, "PARTIAL_BYTES", 64 << 10)
    with Store.open(tiny_project, background=True) as store:
        store.approve([5])
        store.compact()
        assert len(store) == 22000
    assert len(tiny_project.synthetic_path.read_bytes().splitlines()) == 22000
