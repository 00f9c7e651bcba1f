"""The store against a plain in-memory model, driven by hypothesis.

After every step (append, approve, reject, edit, pending, drop, restore, undo, compact,
close-and-reopen) every row the store shows equals the model's row, and the files on disk
hold exactly the live rows and the dropped rows.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import orjson
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from brewslm_tui.core.project import load_project
from brewslm_tui.core.store.reviewer import current_reviewer
from brewslm_tui.core.store.store import Store, append_rows
from tests.conftest import PROJECT_TOML

REASONS = ["label_ambiguous", "minor_typo", "wrong_label"]


class StoreMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="brew-model-"))
        (self.dir / "data").mkdir()
        (self.dir / "brewslm.toml").write_text(PROJECT_TOML)
        self.project = load_project(self.dir)
        self.store = Store.open(self.project)
        self.model: dict[str, dict] = {}  # id -> row as the store should show it
        self.order: list[str] = []
        self.history: list[dict[str, dict]] = []  # model snapshots for undo
        self.counter = 0

    def teardown(self):
        self.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- helpers
    def _slot(self, row_id):
        return self.store.index_of(row_id)

    def _slots(self, ids):
        """Slots of the ids that are still rows (a compacted dropped row has none)."""
        return [s for s in map(self._slot, ids) if s is not None]

    def _ids_with(self, *statuses):
        return [i for i in self.order if self.model[i]["review_status"] in statuses]

    def _snapshot(self):
        self.history.append({k: dict(v) for k, v in self.model.items()})

    # -- rules
    @rule(n=st.integers(1, 4))
    def append(self, n):
        rows = []
        for _ in range(n):
            self.counter += 1
            row = {
                "id": f"m{self.counter}",
                "prompt": f"p{self.counter} [b]x[/b]",
                "completion": "positive",
                "review_status": "pending",
                "run_id": f"run{self.counter % 3}",
                "extra": {"k": self.counter},
            }
            rows.append(row)
            self.model[row["id"]] = dict(row)
            self.order.append(row["id"])
        append_rows(self.project, rows)
        self.store.refresh()

    @precondition(lambda self: self.order)
    @rule(data=st.data())
    def approve(self, data):
        ids = data.draw(st.lists(st.sampled_from(self.order), min_size=1, max_size=4, unique=True))
        target = [i for i in ids if self.model[i]["review_status"] in ("pending", "rejected")]
        d = self.store.approve(self._slots(ids))
        assert d.count == len(target)
        if target:
            self._snapshot()
            for i in target:
                row = self.model[i]
                row["review_status"] = "approved"
                row.pop("reject_reason", None)
                row.pop("review_note", None)
                self._stamped(i)

    @precondition(lambda self: self.order)
    @rule(data=st.data(), reason=st.sampled_from(REASONS), note=st.one_of(st.none(), st.text(max_size=5)))
    def reject(self, data, reason, note):
        ids = data.draw(st.lists(st.sampled_from(self.order), min_size=1, max_size=4, unique=True))
        target = [i for i in ids if self.model[i]["review_status"] in ("pending", "approved", "rejected")]
        d = self.store.reject(self._slots(ids), reason, note)
        assert d.count == len(target)
        if target:
            self._snapshot()
            for i in target:
                row = self.model[i]
                row["review_status"] = "rejected"
                row["reject_reason"] = reason
                if note:
                    row["review_note"] = note
                else:
                    row.pop("review_note", None)
                self._stamped(i)

    @precondition(lambda self: self.order)
    @rule(data=st.data())
    def pending(self, data):
        ids = data.draw(st.lists(st.sampled_from(self.order), min_size=1, max_size=4, unique=True))
        target = [i for i in ids if self.model[i]["review_status"] in ("approved", "rejected")]
        self.store.set_pending(self._slots(ids))
        if target:
            self._snapshot()
            for i in target:
                row = self.model[i]
                row["review_status"] = "pending"
                row.pop("reject_reason", None)
                row.pop("review_note", None)

    @precondition(lambda self: any(self.model[i]["review_status"] != "dropped" for i in self.order))
    @rule(data=st.data(), text=st.text(min_size=1, max_size=6))
    def edit(self, data, text):
        row_id = data.draw(
            st.sampled_from([i for i in self.order if self.model[i]["review_status"] != "dropped"])
        )
        row = self.model[row_id]
        self.store.edit(self._slot(row_id), completion=text)
        self._snapshot()
        if text != row["completion"]:
            row.setdefault("original", {"prompt": row["prompt"], "completion": row["completion"]})
            row["completion"] = text
        row["review_status"] = "approved"
        row.pop("reject_reason", None)
        row.pop("review_note", None)
        self._stamped(row_id)

    def _stamped(self, row_id: str) -> None:
        """A verdict stamps the row: the reviewer, and the time its journal entry took."""
        row = self.model[row_id]
        row["reviewed_by"] = current_reviewer()
        row["reviewed_at"] = self.store.row(self._slot(row_id))["reviewed_at"]

    @precondition(lambda self: self.order)
    @rule(data=st.data())
    def drop(self, data):
        ids = data.draw(st.lists(st.sampled_from(self.order), min_size=1, max_size=5, unique=True))
        target = [i for i in ids if self.model[i]["review_status"] == "rejected"]
        d = self.store.drop(self._slots(ids))
        assert d.count == len(target)
        if target:
            self._snapshot()
            for i in target:
                self.model[i]["review_status"] = "dropped"

    @precondition(lambda self: any(r["review_status"] == "dropped" for r in self.model.values()))
    @rule(data=st.data())
    def restore(self, data):
        dropped = [i for i in self.order if self.model[i]["review_status"] == "dropped"]
        ids = data.draw(st.lists(st.sampled_from(dropped), min_size=1, max_size=3, unique=True))
        d = self.store.restore(ids)
        assert d.count == len(ids)
        self._snapshot()
        for i in ids:
            row = self.model[i]
            row["review_status"] = "pending"
            row.pop("reject_reason", None)
            row.pop("review_note", None)

    @precondition(lambda self: self.history)
    @rule()
    def undo(self):
        assert self.store.undo() is not None
        self.model.update(self.history.pop())  # rows appended since keep their state

    @rule()
    def compact(self):
        self.store.compact()
        # the columns compaction derived must equal what a cold parse of the new file gives
        fresh = Store.open(self.project, readonly=True)
        s = self.store
        assert bytes(s.status) == bytes(fresh.status) and bytes(s.reason) == bytes(fresh.reason)
        assert list(s.cols.offsets) == list(fresh.cols.offsets) and bytes(s.cols.flags) == bytes(
            fresh.cols.flags
        )
        assert [s.run_of(i) for i in range(len(s))] == [fresh.run_of(i) for i in range(len(fresh))]
        assert list(s.cols.label) == list(fresh.cols.label) and s.counts() == fresh.counts()
        self.history.clear()  # undo does not reach across a compaction

    @rule()
    def reopen(self):
        self.store.close()
        self.store = Store.open(self.project)
        # undo history survives a reopen within one journal generation
        if not self.store.can_undo:
            self.history.clear()

    # -- invariants
    @invariant()
    def rows_match(self):
        store = self.store
        seen = {}
        for i in range(len(store)):
            row = store.row(i)
            if row["review_status"] == "dropped" and row["id"] in seen:
                continue
            seen[row["id"]] = row
        restored_live = {store.id_of(i) for i in range(len(store))}
        for j in range(len(store.dropped)):
            row_id = store.dropped.id_of(j)
            if row_id not in restored_live:
                row = store.dropped.row(j)
                row["review_status"] = "dropped"
                for k in ("dropped_at", "drop_reason"):
                    row.pop(k)
                seen[row_id] = row
        assert set(seen) == set(self.model)
        for row_id, expected in self.model.items():
            assert seen[row_id] == expected, row_id
        counts = store.counts()
        for status in ("pending", "approved", "rejected", "dropped"):
            assert counts[status] == sum(1 for r in self.model.values() if r["review_status"] == status)

    @invariant()
    def files_are_clean_jsonl(self):
        for name in ("synthetic.jsonl", "dropped.jsonl"):
            path = self.dir / "data" / name
            if path.exists():
                data = path.read_bytes()
                assert not data or data.endswith(b"\n")
                for line in data.splitlines():
                    assert isinstance(orjson.loads(line), dict)


TestStoreModel = StoreMachine.TestCase
TestStoreModel.settings = settings(
    max_examples=int(os.environ.get("BREW_HYPOTHESIS_EXAMPLES", 60)),
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
