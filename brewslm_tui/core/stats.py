"""Counts over the store's columns: one pass, no row parsing. Used by `stats`, the header and Runs."""

from __future__ import annotations

from brewslm_tui.core.rows import STATUS_NAMES
from brewslm_tui.core.store import quarantine


def run_table(store) -> dict[str, dict[str, int]]:
    """Per run_id: total and count per status (dropped includes rows already in dropped.jsonl)."""
    n_runs = len(store.runs)
    per = [[0, 0, 0, 0] for _ in range(n_runs)]
    runs = store.run_index_column()
    status = store.status
    for i in range(len(store)):
        per[runs[i]][status[i]] += 1
    table = {}
    for k, counts in enumerate(per):
        table[store.runs[k]] = {name: counts[c] for c, name in enumerate(STATUS_NAMES)}
    dropped = store.dropped
    for j in range(len(dropped)):
        if store.restored_slot(dropped.id_of(j)) is not None:
            continue
        entry = table.setdefault(dropped.run_of(j), dict.fromkeys(STATUS_NAMES, 0))
        entry["dropped"] += 1
    for entry in table.values():
        entry["total"] = sum(entry[name] for name in STATUS_NAMES)
    return table


def compute_stats(store) -> dict:
    counts = store.counts()
    by_label: dict[str, int] = {}
    labels = store.label_index_column()
    status = store.status
    tally = [0] * len(store.labels)
    for i in range(len(store)):
        if status[i] != 3:
            tally[labels[i]] += 1
    for k, n in enumerate(tally):
        if n and store.labels[k] is not None:
            by_label[store.labels[k]] = n
    if tally and tally[0] and len(store.labels) > 1:
        by_label["(not a label)"] = tally[0]
    dropped_by_reason: dict[str, int] = {}
    for j in range(len(store.dropped)):
        if store.restored_slot(store.dropped.id_of(j)) is None:
            code = store.dropped.reason_of(j) or "(no reason)"
            dropped_by_reason[code] = dropped_by_reason.get(code, 0) + 1
    for i in range(len(store)):
        if status[i] == 3:
            code = store.reason_of(i) or "(no reason)"
            dropped_by_reason[code] = dropped_by_reason.get(code, 0) + 1
    return {
        "project": store.project.name,
        "total": sum(counts.values()),
        "by_status": counts,
        "by_reason": store.reason_counts(),
        "dropped_by_reason": dropped_by_reason,
        "by_run": run_table(store),
        "by_label": by_label,
        "quarantined": quarantine.count(store.state_dir, store.problems + store.dropped.problems),
        "journal_entries": store.journal_size(),
    }
