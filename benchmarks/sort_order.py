"""How long the queue's sort takes (issue 11: "sort the queue"), at a given size.

    python -m benchmarks.sort_order [--size 1m] [--project PATH]

Per order (run, length, label): the one sort when the order changes (`SortedView` built over
the Queue's RowView), then a `sync` after one decision and a `position_of` (what a keystroke
costs in a sorted queue). Prints seconds; asserts nothing (speed is shown here, not in tests).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.datagen import ensure_project, parse_size, working_copy
from brewslm_tui.core.project import load_project
from brewslm_tui.core.rows import PENDING
from brewslm_tui.core.store.store import Store
from brewslm_tui.core.store.views import RowView
from brewslm_tui.ui.review.sorting import SORTS, sorted_view


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="1m")
    parser.add_argument("--project", type=Path, help="an existing project to copy instead of generating one")
    args = parser.parse_args()
    source = args.project or ensure_project(parse_size(args.size))
    with tempfile.TemporaryDirectory() as tmp:
        root = working_copy(source, Path(tmp) / "p", keep_index=False, link=False)  # never shares a file
        store = Store.open(load_project(root), session=True)
        try:
            started = time.perf_counter()
            base = RowView(store, statuses={PENDING})
            print(f"{len(base):,} pending rows; RowView built in {time.perf_counter() - started:.2f} s")
            for sort in SORTS[1:]:
                started = time.perf_counter()
                view = sorted_view(base, sort)
                built = time.perf_counter() - started
                slot = view[len(view) // 2]
                store.approve([slot])
                started = time.perf_counter()
                view.sync()
                synced = time.perf_counter() - started
                started = time.perf_counter()
                view.position_of(view[len(view) // 3])
                found = time.perf_counter() - started
                print(
                    f"sort by {sort:<7} one sort {built:.2f} s · sync after a decision {synced * 1e3:.2f} ms"
                    f" · position_of {found * 1e6:.0f} µs"
                )
        finally:
            store.close()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
