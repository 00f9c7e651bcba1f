"""A big file with no column cache opens partly at once; a child process builds the cache;
decisions made meanwhile survive the switch to the full columns."""

from __future__ import annotations

import os
import signal

from brewslm_tui.core.store.store import Store, append_rows, column_cache
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
        assert store.loaded and len(store) == 30000 and new == range(30000)
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
        partial = len(store)
        # the first refresh after the builder's exit reads its cache in a thread; the one after
        # that read swaps the full columns in
        assert store.refresh() == range(partial, partial) and not store.loaded
        assert store._preload is not None
        store._preload.done.wait()
        assert store.refresh() == range(25000) and store.loaded


def test_a_decision_made_while_the_cache_is_read_in_a_thread_survives_the_swap(tiny_project, monkeypatch):
    append_rows(tiny_project, make_rows(25000))
    monkeypatch.setattr(Store, "BACKGROUND_BYTES", 1 << 20)
    monkeypatch.setattr(Store, "PARTIAL_BYTES", 64 << 10)
    with Store.open(tiny_project, background=True) as store:
        store._builder.wait()
        store.refresh()  # the read starts
        store.approve([3])
        store.reject([4], "minor_typo")
        store._preload.done.wait()
        assert store._preload.result is not None  # the swap below uses the thread's columns
        assert store.refresh() == range(25000) and store.loaded
        assert store.counts() == {"pending": 24998, "approved": 1, "rejected": 1, "dropped": 0}
        assert store.reason_of(4) == "minor_typo"


def test_rows_landed_while_the_cache_was_read_in_a_thread_are_loaded_too(tiny_project, monkeypatch):
    append_rows(tiny_project, make_rows(25000))
    monkeypatch.setattr(Store, "BACKGROUND_BYTES", 1 << 20)
    monkeypatch.setattr(Store, "PARTIAL_BYTES", 64 << 10)
    with Store.open(tiny_project, background=True) as store:
        store._builder.wait()
        store.refresh()
        store._preload.done.wait()
        append_rows(tiny_project, make_rows(10, start=90000))  # a job landed rows after the read
        store.refresh()
        assert store.loaded and len(store) == 25010


def test_compaction_while_partly_loaded_loses_no_row(tiny_project, monkeypatch):
    append_rows(tiny_project, make_rows(22000))
    monkeypatch.setattr(Store, "BACKGROUND_BYTES", 1 << 20)
    monkeypatch.setattr(Store, "PARTIAL_BYTES", 64 << 10)
    with Store.open(tiny_project, background=True) as store:
        store.approve([5])
        store.compact()
        assert len(store) == 22000
    assert len(tiny_project.synthetic_path.read_bytes().splitlines()) == 22000


def test_a_builder_started_before_the_open_is_used_not_doubled(tiny_project, monkeypatch):
    """`brewslm-tui open` starts the cache builder before importing the UI; the store adopts it
    (running: as its background builder; done: it loads the cache it wrote) and starts none."""
    append_rows(tiny_project, make_rows(24000))
    monkeypatch.setattr(Store, "BACKGROUND_BYTES", 1 << 20)
    monkeypatch.setattr(Store, "PARTIAL_BYTES", 64 << 10)
    started = []
    real_start = column_cache.start_builder

    def counted(project):
        started.append(project)
        return real_start(project)

    monkeypatch.setattr(column_cache, "start_builder", counted)
    early = Store.start_early_builder(tiny_project)
    assert early is not None and len(started) == 1
    os.kill(early.pid, signal.SIGSTOP)  # still running when the store opens, whatever the machine
    try:
        store = Store.open(tiny_project, background=True, builder=early)
    finally:
        os.kill(early.pid, signal.SIGCONT)
    with store:
        assert store._builder is early and not store.loaded
        store.finish_loading()
        assert store.loaded and len(store) == 24000
    assert len(started) == 1
    # the cache now describes the file: nothing to start early
    assert Store.start_early_builder(tiny_project) is None
    # finished before the open: its cache is loaded at once
    column_cache.cache_path(tiny_project.state_dir).unlink()
    early = Store.start_early_builder(tiny_project)
    early.wait()
    with Store.open(tiny_project, background=True, builder=early) as store:
        assert store.loaded and len(store) == 24000 and store._builder is None
    assert len(started) == 2
    # a small file never starts one
    monkeypatch.setattr(Store, "BACKGROUND_BYTES", 1 << 30)
    column_cache.cache_path(tiny_project.state_dir).unlink()
    assert Store.start_early_builder(tiny_project) is None
