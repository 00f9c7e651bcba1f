"""RowView against a plain Python model: status selection, reason groups, deferred views, sync.

The view builds its slot list and groups with C-speed byte tricks (`bytes.translate` masks and
`compress`); these tests pin them to the obvious loop over every row.
"""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from brewslm_tui.core.rows import APPROVED, PENDING, REJECTED
from brewslm_tui.core.store.store import Store
from brewslm_tui.core.store.views import RowView
from tests.helpers import make_project, make_rows, write_raw_rows
from tests.helpers import reason_groups as _model_groups

REASONS = [
    "label_ambiguous",
    "wrong_label",
    "minor_typo",
    "off_task",
    "duplicate",
    "unsafe",
    "low_quality",
    "not_a_project_reason",
]


def _project(tmp_path, states):
    """One row per entry of `states`: None = pending, "ok" = approved, or a reject reason."""
    project = make_project(tmp_path)
    rows = make_rows(len(states))
    for row, state in zip(rows, states, strict=False):
        if state == "ok":
            row["review_status"] = "approved"
        elif state is not None:
            row["review_status"] = "rejected"
            row["reject_reason"] = state
    write_raw_rows(project, rows)
    return project


states_strategy = st.lists(st.one_of(st.none(), st.just("ok"), st.sampled_from(REASONS)), max_size=120)


@settings(max_examples=60, deadline=None)
@given(states=states_strategy)
def test_views_and_groups_match_a_plain_loop(tmp_path_factory, states):
    project = _project(tmp_path_factory.mktemp("v"), states)
    with Store.open(project, readonly=True) as store:
        for statuses in ({PENDING}, {REJECTED}, {APPROVED}, {PENDING, REJECTED}):
            view = RowView(store, statuses=statuses)
            expected = [i for i in range(len(store)) if store.status[i] in statuses]
            assert list(view) == expected
            assert [(r, list(s)) for r, s in view.groups()] == _model_groups(store, expected)
            deferred = RowView(store, statuses=statuses, deferred=True)
            assert len(deferred) == 0  # nothing selected until the first sync
            assert deferred.sync() is True
            assert list(deferred) == expected


def test_groups_follow_decisions(tmp_path):
    states = [None] * 10 + ["wrong_label", "minor_typo", "wrong_label", "not_a_project_reason"]
    project = _project(tmp_path, states)
    with Store.open(project) as store:
        view = RowView(store, statuses={REJECTED})
        assert [(r, list(s)) for r, s in view.groups()] == [
            ("wrong_label", [10, 12]),
            ("minor_typo", [11]),
            ("not_a_project_reason", [13]),
        ]
        store.reject([0, 3], "label_ambiguous")
        store.reject([12], "minor_typo")
        view.sync()
        assert [(r, list(s)) for r, s in view.groups()] == [
            ("label_ambiguous", [0, 3]),
            ("wrong_label", [10]),
            ("minor_typo", [11, 12]),
            ("not_a_project_reason", [13]),
        ]
        assert [(r, list(s)) for r, s in view.groups()] == _model_groups(store, list(view))


def test_the_text_filter_finds_text_that_escaping_or_casefolding_hides_in_the_raw_line(tiny_project):
    lines = [
        {"id": "q", "prompt": 'she said "hi" to me', "completion": "positive"},
        {"id": "s", "prompt": "die Straße ist lang", "completion": "positive"},
        {"id": "f", "prompt": "a ﬁne day", "completion": "positive"},
    ]
    raw = [orjson.dumps(row) for row in lines]
    raw.append(b'{"id":"u","prompt":"caf\\u00e9 and a\\/b","completion":"positive"}')
    raw.append(b'{"id":"n","prompt":"nothing here","completion":"positive"}')
    tiny_project.synthetic_path.write_bytes(b"".join(line + b"\n" for line in raw))
    with Store.open(tiny_project) as store:

        def found(text):
            return [store.id_of(i) for i in RowView(store, text=text)]

        assert found('"hi"') == ["q"]
        assert found("STRASSE") == ["s"]
        assert found("fine") == ["f"]
        assert found("café") == ["u"] and found("a/b") == ["u"]
        assert found("here") == ["n"]


def test_the_characters_that_casefold_to_ascii_are_all_known():
    import sys

    from brewslm_tui.core.store.row_filter import _FOLDS_TO_ASCII

    for code in range(128, sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF:
            continue
        char = chr(code)
        folds = any(ord(c) < 128 for c in char.casefold())
        assert folds == bool(_FOLDS_TO_ASCII.search(char.encode())), hex(code)


@settings(max_examples=40, deadline=None)
@given(
    states=st.lists(
        st.one_of(st.none(), st.just("ok"), st.sampled_from(REASONS[:3])), min_size=1, max_size=60
    ),
    steps=st.lists(
        st.tuples(
            st.sampled_from(["approve", "reject", "pending", "read", "position", "len"]), st.integers(0, 80)
        ),
        max_size=30,
    ),
)
def test_a_view_listed_lazily_matches_a_plain_loop_through_decisions(tmp_path_factory, states, steps):
    """A view of statuses only lists its slots a chunk of the status column at a time (here 4
    slots, 2 positions at first), as far as asked; reading, syncing and counting it between
    decisions gives what the loop over every row gives."""
    from brewslm_tui.core.store import views

    project = _project(tmp_path_factory.mktemp("lazy"), states)
    old = views._LIST_CHUNK, views._FIRST_LISTED
    views._LIST_CHUNK, views._FIRST_LISTED = 4, 2
    try:
        with Store.open(project) as store:
            view = RowView(store, statuses={PENDING})
            for op, k in steps:
                slot = k % len(store)
                expected = [i for i in range(len(store)) if store.status[i] == PENDING]
                if op == "approve" and store.status[slot] == PENDING:
                    store.approve([slot])
                    view.sync()
                elif op == "reject" and store.status[slot] == PENDING:
                    store.reject([slot], "minor_typo")
                    view.sync()
                elif op == "pending" and store.status[slot] != PENDING:
                    store.set_pending([slot])
                    view.sync()
                elif op == "read" and k < len(expected):
                    assert view[k] == expected[k]
                elif op == "position":
                    assert view.position_of(slot) == (expected.index(slot) if slot in expected else None)
                    assert view.nearest_position(slot) == min(
                        sum(1 for i in expected if i < slot), max(len(expected) - 1, 0)
                    )
                expected = [i for i in range(len(store)) if store.status[i] == PENDING]
                assert len(view) == len(expected)
            assert list(view) == [i for i in range(len(store)) if store.status[i] == PENDING]
    finally:
        views._LIST_CHUNK, views._FIRST_LISTED = old
