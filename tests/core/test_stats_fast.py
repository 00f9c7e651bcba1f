"""The column passes of `core/stats.py` (big-integer and `bytes.count` passes) answer exactly as
the plain per-row loops they replaced, kept here as the reference: same counts, same order of
runs and of reasons, on contiguous runs, runs interleaved row by row, dropped rows (in the file
and since), rows that are not a label, and more reasons than the one-byte fast path holds."""

from __future__ import annotations

from collections import Counter
from contextlib import suppress

import pytest

from brewslm_tui.core import stats
from brewslm_tui.core.rows import DROPPED, REJECTED
from brewslm_tui.core.store.store import Store
from tests.helpers import make_project, make_rows


def reference_tally(store: Store) -> dict[str, tuple]:
    """The loop `tally_runs` had: a Counter over the zipped columns."""
    n = len(store)
    runs, codes = store.runs, store.reason_codes
    triples = Counter(
        zip(store.run_index_column()[:n], bytes(store.status[:n]), bytes(store.reason[:n]), strict=True)
    )
    tallies: dict[str, stats.RunTally] = {}
    for (run_k, status, reason_k), k in triples.items():
        tally = tallies.setdefault(runs[run_k], stats.RunTally(runs[run_k]))
        tally.by_status[status] += k
        if reason_k and status in (REJECTED, DROPPED):
            tally.reasons[codes[reason_k]] += k
        if status == REJECTED:
            tally.rejected_reasons[codes[reason_k] if reason_k else "(no reason)"] += k
    dropped = store.dropped
    for j in stats._unrestored_dropped(store):
        run = dropped.run_of(j)
        tally = tallies.setdefault(run, stats.RunTally(run))
        tally.dropped_file += 1
        if not tally.playbook:
            tally.playbook = dropped.playbook_of(j)
        reason = dropped.reason_of(j)
        if reason:
            tally.reasons[reason] += 1
    column = store.run_index_column()
    for run_k, run in enumerate(runs):
        if run in tallies and not tallies[run].playbook:
            with suppress(ValueError):
                tallies[run].playbook = store.playbook_of(column.index(run_k))
    return {run: _flat(t) for run, t in tallies.items()}


def _flat(t: stats.RunTally) -> tuple:
    # (lists of items: the order of the reasons is compared too)
    return (
        t.playbook,
        list(t.by_status),
        list(t.reasons.items()),
        list(t.rejected_reasons.items()),
        t.dropped_file,
    )


def reference_labels(store: Store) -> dict[str, int]:
    labels = store.labels
    if len(labels) < 2:
        return {}
    status = bytes(store.status)
    column = store.label_index_column()
    tally = Counter(k for k, st in zip(column, status, strict=True) if st != DROPPED)
    out = {label: tally[k] for k, label in enumerate(labels) if label is not None and tally[k]}
    if tally[0]:
        out["(not a label)"] = tally[0]
    return out


def reference_dropped(store: Store) -> dict[str, int]:
    counts: Counter = Counter()
    dropped = store.dropped
    counts.update(dropped.reason_of(j) or stats.NO_REASON for j in stats._unrestored_dropped(store))
    status = bytes(store.status)
    slots = [i for i in range(len(status)) if status[i] == DROPPED]
    for code, n in store.count_by_reason(slots).items():
        counts[code] += n
    return dict(counts)


def assert_same(store: Store) -> None:
    fast = {run: _flat(t) for run, t in stats.tally_runs(store).items()}
    assert list(fast.items()) == list(reference_tally(store).items())
    assert list(stats.label_counts(store).items()) == list(reference_labels(store).items())
    assert list(stats.dropped_by_reason(store).items()) == list(reference_dropped(store).items())


def rows_of_runs(order: list[int], runs: list[str]) -> list[dict]:
    rows = []
    for k, r in enumerate(order):
        [row] = make_rows(1, run=runs[r], playbook=f"book-{r % 2}", start=k)
        if k % 17 == 0:
            row["completion"] = "not one of the labels"
        rows.append(row)
    return rows


def decide(store: Store, reasons: list[str]) -> None:
    n = len(store)
    store.approve(range(0, n, 3))
    for k, reason in enumerate(reasons):
        store.reject([i for i in range(1 + k, n, 7 + k % 5) if i % 3], reason)
    store.drop(list(range(1, n, 11)))


@pytest.mark.parametrize("layout", ["contiguous", "interleaved", "stretches"])
def test_run_and_label_tallies_equal_the_row_loops(tmp_path, layout):
    runs = [f"synth-2026-05-{k:02d}-x" for k in range(6)]
    n = 3000
    if layout == "contiguous":
        order = [k * len(runs) // n for k in range(n)]
    elif layout == "interleaved":
        order = [k % 3 for k in range(n)]
    else:  # two jobs at once: stretches of 40 rows each, alternating, a run coming back later
        order = [(k // 40) % 2 + 2 * (k // 1500) for k in range(n)]
    project = make_project(tmp_path, rows=rows_of_runs(order, runs))
    with Store.open(project) as store:
        assert_same(store)  # all pending, nothing dropped
        decide(store, ["wrong_label", "off_task", "label_ambiguous"])
        assert_same(store)  # dropped since the last compaction
        store.compact()
        assert_same(store)  # dropped rows in dropped.jsonl now
        store.reject(range(0, len(store), 5), "off_task")
        store.drop(range(0, len(store), 10))
        assert_same(store)
    monkey = pytest.MonkeyPatch()
    with monkey.context() as m:  # every run change counted as a stretch of its own: the Counter path
        m.setattr(stats, "MAX_STRETCHES", 1)
        with Store.open(project) as store:
            assert_same(store)


def test_more_reasons_than_six_bits_take_the_counter_path(tmp_path):
    rows = make_rows(2000)
    for k, row in enumerate(rows):  # reasons met in the file, not in the project: 70 of them
        if k % 3 == 0:
            row["review_status"] = "rejected"
            row["reject_reason"] = f"odd_reason_{k % 70:02d}"
    project = make_project(tmp_path, rows=rows)
    with Store.open(project) as store:
        store.reject(range(1, len(store), 7), "off_task")
        store.drop(range(0, len(store), 9))
        assert stats._status_reason_bytes(store, len(store)) is None
        assert_same(store)


def test_run_stretches_are_the_runs_of_equal_values():
    from array import array

    for values in ([], [5], [1, 1, 1], [1, 2, 1, 1, 3, 3, 70000, 70000, 1], [0, 256, 0, 65536, 65536]):
        column = array("I", values)
        expected, a = [], 0
        for i in range(1, len(values) + 1):
            if i == len(values) or values[i] != values[i - 1]:
                expected.append((a, i))
                a = i
        assert stats._run_stretches(column, len(values)) == expected
