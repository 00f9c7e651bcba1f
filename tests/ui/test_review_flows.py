"""Review flows driven with the keyboard (Pilot), checked on disk with a fresh read-only Store."""

from __future__ import annotations

import orjson
from conftest import on_disk, ready, restore_dialog, statuses, until
from textual.widgets import TabbedContent

from brewslm_tui.core.project import load_project
from brewslm_tui.core.store.store import append_rows
from brewslm_tui.ui.review.modals import ConfirmScreen, EditScreen, ReasonPicker
from brewslm_tui.ui.review.review_views import ApprovedPane, DetailPane, QueuePane, RejectedPane
from brewslm_tui.ui.shell.app import build_app
from tests.helpers import make_rows

SIZE = (120, 36)


def queue(app) -> QueuePane:
    return app.query_one("#queue-pane", QueuePane)


def rejected(app) -> RejectedPane:
    return app.query_one("#rejected-pane", RejectedPane)


def approved(app) -> ApprovedPane:
    return app.query_one("#approved-pane", ApprovedPane)


def disk_row(root, row_id: str) -> dict:
    store = on_disk(root)
    try:
        return store.row(store.index_of(row_id))
    finally:
        store.close()


def ids(app, slots) -> list[str]:
    return [app.store.id_of(s) for s in slots]


async def test_approve_moves_to_next_row_and_is_on_disk(pilot, project_dir):
    app = pilot.app
    first = queue(app).rows.cursor_slot
    first_id, next_id = ids(app, [first, first + 1])
    await pilot.press("a")
    # durable when the key returns: another process sees it while the app still runs
    assert statuses(project_dir)[first_id] == "approved"
    assert queue(app).rows.cursor_slot == first + 1
    assert statuses(project_dir)[next_id] == "pending"


async def test_reject_with_reason_and_note(pilot, project_dir):
    app = pilot.app
    slot = queue(app).rows.cursor_slot
    row_id = app.store.id_of(slot)
    await pilot.press("x", "tab")
    assert isinstance(app.screen, ReasonPicker)
    await pilot.press(*"needs context", "enter", "3")
    assert not isinstance(app.screen, ReasonPicker)
    row = disk_row(project_dir, row_id)
    assert row["review_status"] == "rejected"
    assert row["reject_reason"] == "minor_typo"
    assert row["review_note"] == "needs context"
    # escape cancels without a decision
    await pilot.press("x", "escape")
    assert list(statuses(project_dir).values()).count("rejected") == 1


async def test_x_asks_for_the_reason_in_place(pilot, project_dir):
    """x asks in the pane (no modal screen): the next key is the answer whatever else it is
    bound to; esc or any other key cancels without a decision."""
    app = pilot.app
    pane = queue(app)
    first = app.store.id_of(pane.rows.cursor_slot)
    await pilot.press("x")
    assert len(app.screen_stack) == 1 and pane.asking is not None
    detail = pane.query_one(DetailPane).text
    assert "Reject this row: press a reason key" in detail and "wrong_label" in detail
    await pilot.press("2")  # a reason key here, not "show the Rejected tab"
    assert app.query_one(TabbedContent).active == "queue" and pane.asking is None
    assert disk_row(project_dir, first)["reject_reason"] == "wrong_label"
    assert "Reject" not in pane.query_one(DetailPane).text  # the next row is shown again
    # esc cancels; an unbound or other key cancels too and is not acted on (a is not approve here)
    second = app.store.id_of(pane.rows.cursor_slot)
    await pilot.press("x", "escape", "x", "a")
    assert pane.asking is None and disk_row(project_dir, second)["review_status"] == "pending"
    assert any("not a reason key" in n.message for n in app._notifications)
    assert pane.rows.cursor_slot == app.store.index_of(second)
    # x and its key typed in one burst still reject
    await pilot.press("x", "7", "x", "1")
    assert disk_row(project_dir, second)["reject_reason"] == "low_quality"
    assert sorted(statuses(project_dir).values()).count("rejected") == 3


async def test_the_reused_reason_picker_starts_clean_each_time(pilot, project_dir):
    """One picker is installed and shown again: no note, count or highlight carries over."""
    app = pilot.app
    first = app.store.id_of(queue(app).rows.cursor_slot)
    await pilot.press("x", "tab", *"first note", "enter", "down", "down", "enter")
    second = app.store.id_of(queue(app).rows.cursor_slot)
    await pilot.press("space", "j", "space", "x", "tab")
    picker = app.screen
    assert isinstance(picker, ReasonPicker)
    assert "2 rows" in str(picker.query_one("#reason-title").content)
    assert picker.query_one("#reason-note").value == ""
    await pilot.press("enter", "enter")  # leave the (empty) note; enter with no reason moved to: nothing
    assert app.screen is picker and "rejected" not in statuses(project_dir).get(second, "")
    await pilot.press("down", "enter")  # the first reason, chosen
    assert disk_row(project_dir, first)["review_note"] == "first note"
    assert disk_row(project_dir, first)["reject_reason"] == "wrong_label"
    row = disk_row(project_dir, second)
    assert row["reject_reason"] == "label_ambiguous" and "review_note" not in row


async def test_edit_keeps_original_and_approves(pilot, project_dir):
    app = pilot.app
    slot = queue(app).rows.cursor_slot
    row_id = app.store.id_of(slot)
    before = app.store.row(slot)
    await pilot.press("e")
    assert isinstance(app.screen, EditScreen)
    area = app.screen.query_one("#edit-completion")
    area.text = "mixed"
    await pilot.press("ctrl+s")
    row = disk_row(project_dir, row_id)
    assert row["review_status"] == "approved"
    assert row["completion"] == "mixed"
    assert row["prompt"] == before["prompt"]
    assert row["original"]["completion"] == before["completion"]
    # undo puts content and status back
    await pilot.press("u")
    row = disk_row(project_dir, row_id)
    assert row["review_status"] == "pending"
    assert row["completion"] == before["completion"]


async def test_multi_select_bulk_approve_then_undo(pilot, project_dir):
    app = pilot.app
    rows = queue(app).rows
    # space toggles and moves down; shift+down selects and moves down: one row a key
    await pilot.press("space", "space", "shift+down", "shift+down")
    picked = sorted(rows.selected)
    assert picked == [0, 1, 2, 3]
    picked_ids = ids(app, picked)
    await pilot.press("a")
    on = statuses(project_dir)
    assert [on[i] for i in picked_ids] == ["approved"] * 4
    assert list(on.values()).count("approved") == 4
    assert not rows.selected
    await pilot.press("u")
    on = statuses(project_dir)
    assert list(on.values()).count("approved") == 0


async def test_bulk_reject_of_a_selection(pilot, project_dir):
    app = pilot.app
    await pilot.press("space", "j", "space")
    picked_ids = ids(app, sorted(queue(app).rows.selected))
    await pilot.press("x", "1")
    on = statuses(project_dir)
    assert [on[i] for i in picked_ids] == ["rejected", "rejected"]
    assert list(on.values()).count("rejected") == 2
    assert {disk_row(project_dir, i)["reject_reason"] for i in picked_ids} == {"label_ambiguous"}


async def test_filter_then_select_all_matching(pilot, project_dir):
    app = pilot.app
    await pilot.press("slash", *"worst", "enter")
    pane = queue(app)
    assert pane.filters.text == "worst"
    matching = [pane.rows.view[k] for k in range(len(pane.rows.view))]
    assert matching and all("worst" in app.store.row(s)["prompt"] for s in matching)
    await pilot.press("asterisk", "a")
    on = statuses(project_dir)
    assert sorted(i for i, st in on.items() if st == "approved") == sorted(ids(app, matching))
    # esc clears the filter: every pending row is back
    await pilot.press("escape")
    assert not pane.filters.active()
    assert len(pane.rows.view) == 40 - len(matching)


async def test_filter_by_run(pilot):
    app = pilot.app
    pane = queue(app)
    pane.set_filters(type(pane.filters)(run="synth-2026-05-30-c3d4"))
    await pilot.pause()
    assert len(pane.rows.view) == 10
    assert {app.store.run_of(pane.rows.view[k]) for k in range(10)} == {"synth-2026-05-30-c3d4"}


async def test_rejected_groups_select_group_and_bulk_drop_keeps_other_group(project_dir):
    app = build_app(project_dir)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)  # keys before the deferred parts are in are held (typeahead), replayed later
        store = app.store
        ambiguous = [0, 1, 2]
        typos = [3, 4]
        store.reject(ambiguous, "label_ambiguous")
        store.reject(typos, "minor_typo")
        app.after_change()
        await pilot.press("2")
        pane = rejected(app)
        groups = pane.rows.lines.groups
        assert [(g.reason, len(g.slots)) for g in groups] == [("label_ambiguous", 3), ("minor_typo", 2)]
        assert pane.rows.cursor == 0  # the first header
        await pilot.press("space")  # selects the whole group
        assert pane.rows.selected == set(ambiguous)
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        assert "drop 3 rows: label_ambiguous 3" in app.screen.summary
        await pilot.press("y")
        on = statuses(project_dir)
        assert [on[i] for i in ids(app, ambiguous)] == ["dropped"] * 3
        assert [on[i] for i in ids(app, typos)] == ["rejected"] * 2
        assert [(g.reason, len(g.slots)) for g in pane.rows.lines.groups] == [("minor_typo", 2)]
        # undo brings the whole bulk drop back
        await pilot.press("u")
        on = statuses(project_dir)
        assert [on[i] for i in ids(app, ambiguous)] == ["rejected"] * 3
    # after a clean exit the drops that stayed are compacted into dropped.jsonl; none here
    dropped = project_dir / "data" / "dropped.jsonl"
    assert not dropped.exists() or dropped.read_bytes().strip() == b""


async def test_drop_is_compacted_to_dropped_jsonl_on_exit(project_dir):
    app = build_app(project_dir)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)  # keys before the deferred parts are in are held (typeahead), replayed later
        app.store.reject([5, 6], "label_ambiguous")
        gone = ids(app, [5, 6])
        app.after_change()
        await pilot.press("2", "space", "d", "y")
    lines = (project_dir / "data" / "dropped.jsonl").read_bytes().splitlines()
    assert sorted(orjson.loads(line)["id"] for line in lines) == sorted(gone)
    synthetic = (project_dir / "data" / "synthetic.jsonl").read_bytes()
    assert all(i.encode() not in synthetic for i in gone)


async def test_group_collapse_and_cancel_drop(pilot, project_dir):
    app = pilot.app
    app.store.reject([0, 1], "label_ambiguous")
    app.store.reject([2], "off_task")
    app.after_change()
    await pilot.press("2")
    rows = rejected(app).rows
    assert len(rows.lines) == 5
    await pilot.press("left")
    assert len(rows.lines) == 3 and not rows.lines.groups[0].expanded
    await pilot.press("enter")
    assert len(rows.lines) == 5
    await pilot.press("j", "d", "n")  # one row, cancelled
    assert list(statuses(project_dir).values()).count("rejected") == 3


async def test_rejected_back_to_pending_and_fix_and_approve(pilot, project_dir):
    app = pilot.app
    app.store.reject([0], "minor_typo")
    app.store.reject([1], "label_ambiguous")
    app.after_change()
    typo_id, amb_id = ids(app, [0, 1])
    await pilot.press("2", "j")  # header minor? groups are in reason order: label_ambiguous first
    pane = rejected(app)
    assert pane.rows.cursor_slot == 1
    await pilot.press("p")
    assert statuses(project_dir)[amb_id] == "pending"
    pane.rows.move_to_slot(0)
    await pilot.press("e")
    app.screen.query_one("#edit-prompt").text = "Classify the sentiment of this review: fixed typo"
    await pilot.press("ctrl+s")
    row = disk_row(project_dir, typo_id)
    assert row["review_status"] == "approved"
    assert row["prompt"].endswith("fixed typo")
    assert row["original"]["prompt"] != row["prompt"]


async def test_approved_take_back(pilot, project_dir):
    app = pilot.app
    app.store.approve([0, 1])
    app.after_change()
    first, second = ids(app, [0, 1])
    await pilot.press("3")
    assert len(approved(app).rows.view) == 2
    await pilot.press("p")
    assert statuses(project_dir)[first] == "pending"
    await pilot.press("x", "2")
    row = disk_row(project_dir, second)
    assert row["review_status"] == "rejected" and row["reject_reason"] == "wrong_label"
    await pilot.press("u", "u")
    on = statuses(project_dir)
    assert on[first] == on[second] == "approved"


async def test_rows_from_another_process_keep_cursor_and_selection(pilot, project_dir):
    app = pilot.app
    rows = queue(app).rows
    await pilot.press("space", "j", "j", "j")
    cursor_slot = rows.cursor_slot
    selected = set(rows.selected)
    # another process (a generation job) appends rows
    append_rows(load_project(project_dir), make_rows(25, run="synth-2026-06-01-eeee", start=100))
    app.poll_store()
    await pilot.pause()
    assert len(rows.view) == 65
    assert rows.cursor_slot == cursor_slot
    assert rows.selected == selected
    assert "pending 65" in str(app.query_one("#header").render())
    # and they are reviewable at once
    await pilot.press("G", "a")
    assert list(statuses(project_dir).values()).count("approved") == 1


async def test_second_app_opens_read_only(project_dir):
    first = build_app(project_dir)
    async with first.run_test(size=SIZE):
        second = build_app(project_dir)
        assert second.readonly_reason
        async with second.run_test(size=SIZE) as pilot:
            await ready(pilot)  # keys before the deferred parts are in are held (typeahead), replayed later
            assert second.query("#readonly-banner")
            await pilot.press("a", "x")
            assert not isinstance(second.screen, ReasonPicker)
            assert set(statuses(project_dir).values()) == {"pending"}
            assert any("read-only" in n.message for n in second._notifications)


async def test_store_error_becomes_a_notification(pilot):
    app = pilot.app
    pane = queue(app)
    pane.reject("no_such_reason")
    await pilot.pause()
    assert any("unknown reject reason" in n.message for n in app._notifications)
    assert app.is_running


async def test_undo_with_nothing_to_undo(pilot):
    app = pilot.app
    await pilot.press("u")
    assert any("nothing to undo" in n.message for n in app._notifications)


async def test_restore_dropped_rows_from_dropped_jsonl(project_dir):
    # a drop from an earlier session, already compacted into dropped.jsonl
    app = build_app(project_dir)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)  # keys before the deferred parts are in are held (typeahead), replayed later
        app.store.reject([7, 8], "off_task")
        gone = ids(app, [7, 8])
        app.after_change()
        await pilot.press("2", "space", "d", "y")
    assert (project_dir / "data" / "dropped.jsonl").read_bytes().count(b"\n") == 2

    app = build_app(project_dir)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)  # keys before the deferred parts are in are held (typeahead), replayed later
        await pilot.press("2")
        dialog = await restore_dialog(pilot)
        assert dialog.total == 2
        await pilot.press("space", "r")
        on = statuses(project_dir)
        assert sorted(on[i] for i in gone) == ["dropped", "pending"]
        restored = [i for i in gone if on[i] == "pending"]
        # undo takes the restore back
        await pilot.press("u")
        assert statuses(project_dir)[restored[0]] == "dropped"
        await restore_dialog(pilot)
        await pilot.press("space", "down", "space", "r")
        assert [statuses(project_dir)[i] for i in gone] == ["pending", "pending"]
    # compaction writes them back into synthetic.jsonl and out of dropped.jsonl
    assert (project_dir / "data" / "dropped.jsonl").read_bytes().strip() == b""
    synthetic = (project_dir / "data" / "synthetic.jsonl").read_bytes()
    assert all(i.encode() in synthetic for i in gone)


async def test_runs_view_messages_show_and_drop_a_run(project_dir):
    from brewslm_tui.ui.insight.runs_view import RunsView

    run = "synth-2026-05-30-c3d4"  # slots 30..39
    app = build_app(project_dir)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)  # keys before the deferred parts are in are held (typeahead), replayed later
        app.store.reject([30, 31], "label_ambiguous")
        app.store.approve([32])
        app.after_change()
        await pilot.pause()  # the hidden tabs mount (Lazy) after the first frame
        runs_view = app.query_one("#runs-view")
        # show its rows in the queue
        runs_view.post_message(RunsView.ShowRun(run))
        await pilot.pause()
        pane = queue(app)
        assert pane.filters.run == run and len(pane.rows.view) == 7
        # drop its rejected rows: confirmation with the per-reason summary
        runs_view.post_message(RunsView.DropRun(run, True))
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "drop 2 rows: label_ambiguous 2" in app.screen.summary
        await pilot.press("y")
        on = statuses(project_dir)
        assert [on[i] for i in ids(app, [30, 31, 32, 33])] == ["dropped", "dropped", "approved", "pending"]
        # all unapproved: the pending ones need a reason first, then the same confirmation
        runs_view.post_message(RunsView.DropRun(run, False))
        await pilot.pause()
        assert isinstance(app.screen, ReasonPicker)
        await pilot.press("7")
        assert isinstance(app.screen, ConfirmScreen)
        assert "drop 7 rows: low_quality 7" in app.screen.summary
        await pilot.press("y")
        on = statuses(project_dir)
        run_ids = ids(app, range(30, 40))
        assert sorted(on[i] for i in run_ids) == ["approved"] + ["dropped"] * 9
        assert list(on.values()).count("pending") == 30  # the other run is untouched


async def test_resize_keeps_the_cursor_row_on_screen(pilot):
    app = pilot.app
    rows = queue(app).rows
    await pilot.press(*["j"] * 25)
    slot = rows.cursor_slot
    await pilot.resize_terminal(80, 24)
    await pilot.pause()
    assert rows.cursor_slot == slot
    top = rows.scroll_offset.y
    assert top <= rows.cursor < top + rows.size.height - 1
    text = "\n".join(strip.text for strip in app.screen._compositor.render_strips())
    assert "[ ]" in text and "pending" in text


async def test_edit_an_approved_row_keeps_it_approved(pilot, project_dir):
    app = pilot.app
    app.store.approve([0])
    app.after_change()
    row_id = ids(app, [0])[0]
    await pilot.press("3", "e")
    app.screen.query_one("#edit-completion").text = "neutral"
    await pilot.press("ctrl+s")
    row = disk_row(project_dir, row_id)
    assert row["review_status"] == "approved" and row["completion"] == "neutral"


async def test_big_file_opens_at_once_then_loads_in_the_background(tmp_path, monkeypatch):
    import threading

    from brewslm_tui.core.store.store import Store, column_cache
    from tests.helpers import make_project

    class HeldBuilder:
        """The real cache builder, reported unfinished until the test lets it finish."""

        def __init__(self, proc):
            self.proc, self.release = proc, threading.Event()

        def poll(self):
            return self.proc.poll() if self.release.is_set() else None

        def wait(self, timeout=None):
            return self.proc.wait(timeout)

    builders = []
    real_start = column_cache.start_builder
    monkeypatch.setattr(
        column_cache,
        "start_builder",
        lambda project: builders.append(HeldBuilder(real_start(project))) or builders[-1],
    )
    monkeypatch.setattr(Store, "BACKGROUND_BYTES", 1 << 20)
    monkeypatch.setattr(Store, "PARTIAL_BYTES", 64 << 10)
    root = make_project(tmp_path, sample="sentiment", rows=make_rows(30000)).root
    app = build_app(root)
    async with app.run_test(size=SIZE) as pilot:
        header = app.query_one("#header")
        rows = queue(app).rows
        assert not app.store.loaded
        assert "loading…" in str(header.render()) and 0 < len(rows.view) < 30000
        await ready(pilot)  # the rest stays loading (its builder is held); keys before are held
        await pilot.press("j", "a")  # deciding while the rest loads
        assert rows.cursor_slot == 2
        drawn = rows._cells.get(2)
        assert drawn is not None
        builders[0].release.set()
        builders[0].wait()
        app.poll_store()  # the builder is done: its cache is read in a thread, then swapped in
        while not app.store.loaded:
            await pilot.pause()
        await pilot.pause()
        assert app.store.loaded and len(rows.view) == 29999
        assert rows._cells.get(2) is drawn  # the rows drawn before the swap are not parsed again
        assert "pending 29,999" in str(header.render())
        assert rows.cursor_slot == 2
    assert statuses(root)[make_rows(2)[1]["id"]] == "approved"


async def test_rejected_cursor_moves_to_the_next_row_of_its_group(pilot):
    app = pilot.app
    app.store.reject([0, 1, 2, 3], "label_ambiguous")
    app.store.reject([4], "minor_typo")
    app.after_change()
    await pilot.press("2", "j", "j")
    rows = rejected(app).rows
    assert rows.cursor_slot == 1
    await pilot.press("p")
    assert rows.cursor_slot == 2
    await pilot.press("j", "p")  # the group's last row: the cursor stays in the group
    assert rows.cursor_slot == 2


async def test_empty_project_every_key_is_calm(tmp_path):
    from tests.helpers import make_project

    root = make_project(tmp_path, sample="sentiment").root
    app = build_app(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)  # keys before the deferred parts are in are held (typeahead), replayed later
        for tab in ("1", "2", "3"):
            await pilot.press(
                tab,
                "j",
                "k",
                "G",
                "g",
                "space",
                "asterisk",
                "pagedown",
                "a",
                "x",
                "e",
                "p",
                "d",
                "enter",
                "left",
                "right",
                "o",
                "escape",
                "u",
            )
            assert app.screen is app.screen_stack[0], f"a modal opened on an empty tab {tab}"
        text = "\n".join(strip.text for strip in app.screen._compositor.render_strips())
        assert "the queue is empty" in text or "nothing" in text
        assert app.is_running


async def test_a_failed_write_is_a_notification_not_a_crash(project_dir, monkeypatch):
    app = build_app(project_dir)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)  # keys before the deferred parts are in are held (typeahead), replayed later

        def disk_full(*args, **kwargs):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(app.store.journal, "append", disk_full)
        slot = queue(app).rows.cursor_slot
        await pilot.press("a")
        assert app.is_running
        assert any("No space left" in n.message for n in app._notifications)
        assert queue(app).rows.cursor_slot == slot  # nothing moved: nothing was decided
        assert set(statuses(project_dir).values()) == {"pending"}
        assert app.store.counts()["approved"] == 0


async def test_group_header_shows_partial_selection_and_selection_spans_groups(pilot, project_dir):
    app = pilot.app
    app.store.reject([0, 1, 2], "label_ambiguous")
    app.store.reject([3, 4], "minor_typo")
    app.after_change()
    await pilot.press("2", "j", "space")  # one row of the first group
    text = "\n".join(strip.text for strip in app.screen._compositor.render_strips())
    assert "[-] ▾ label_ambiguous  3  (1 selected)" in text
    await pilot.press("G", "space")  # plus one row of the other group
    assert rejected(app).rows.selected == {0, 4}
    await pilot.press("p")
    on = statuses(project_dir)
    assert [on[i] for i in ids(app, range(5))] == [
        "pending",
        "rejected",
        "rejected",
        "rejected",
        "pending",
    ]


async def test_key_bar_follows_the_tab_and_a_click_presses_the_key(project_dir):
    from brewslm_tui.ui.shell.key_bar import KeyBar

    app = build_app(project_dir)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)  # keys before the deferred parts are in are held (typeahead), replayed later
        bar = app.query_one(KeyBar)
        await pilot.pause()
        assert "a Approve" in bar.text and "x Reject" in bar.text and "d Drop" not in bar.text
        first = app.store.id_of(queue(app).rows.cursor_slot)
        x = next(x0 for x0, _x1, key in bar._spans if key == "a")
        await pilot.click(KeyBar, offset=(x + 1, 0))
        assert disk_row(project_dir, first)["review_status"] == "approved"
        await pilot.press("2")
        assert "d Drop" in bar.text and "a Approve" not in bar.text


async def test_a_decision_from_elsewhere_cancels_a_waiting_x(pilot, project_dir):
    """x waits; the palette (here: its call of the review service) approves those rows:
    the question is off, and the next key rejects nothing."""
    app = pilot.app
    pane = queue(app)
    first, second = ids(app, [0, 1])
    await pilot.press("space", "space", "x")
    assert pane.asking is not None and pane.asking.count == 2
    app.review.approve([0, 1])
    assert pane.asking is None
    await pilot.press("1")
    on = statuses(project_dir)
    assert on[first] == on[second] == "approved"
    assert list(on.values()).count("rejected") == 0


async def test_detail_follows_the_cursor_between_group_headers(pilot):
    app = pilot.app
    app.store.reject([0, 1], "label_ambiguous")
    app.store.reject([2], "minor_typo")
    app.after_change()
    await pilot.press("2", "h", "j")  # fold the first group: the next line is the other header
    pane = rejected(app)
    assert pane.rows.cursor_slot is None
    assert pane.query_one(DetailPane).text.startswith("minor_typo")


async def test_keys_typed_before_the_deferred_parts_mount(project_dir):
    """o (to the run) and n (new job) in the very first frames wait for their parts."""
    from brewslm_tui.ui.jobs.job_form import NewJobScreen

    app = build_app(project_dir)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("o")
        await until(
            pilot,
            lambda: bool(app.query("#runs-view")) and app.query_one("#tabs").active == "runs",
            "o replayed once the Runs view is there",
        )
    app = build_app(project_dir)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, NewJobScreen), "n replayed: the new-job form")


async def test_reject_with_a_note_never_uses_a_reason_not_picked(pilot, project_dir):
    """x, tab: the note has the focus and the key line says so; tab leaves it, and enter then
    rejects nothing (no reason was moved to); a reason key then rejects with the note."""
    app = pilot.app
    first = app.store.id_of(queue(app).rows.cursor_slot)
    await pilot.press("x", "tab")
    picker = app.screen
    assert isinstance(picker, ReasonPicker)
    assert "typing a note" in str(picker.query_one("#reason-help").content)
    await pilot.press(*"fix", "tab")
    assert "a reason key picks" in str(picker.query_one("#reason-help").content)
    await pilot.press("enter")
    assert app.screen is picker
    assert "rejected" not in statuses(project_dir).values()
    await pilot.press("2")
    row = disk_row(project_dir, first)
    assert row["reject_reason"] == "wrong_label" and row["review_note"] == "fix"


async def test_edit_says_which_field_has_the_focus_and_what_ctrl_s_saves(pilot, project_dir):
    app = pilot.app
    await pilot.press("e")
    screen = app.screen
    assert isinstance(screen, EditScreen)

    def said(widget_id: str) -> str:
        return str(screen.query_one(widget_id).content)

    assert "editing" in said("#edit-completion-label") and "editing" not in said("#edit-prompt-label")
    assert "ctrl+s save and approve (nothing changed yet)" in said("#edit-help")
    await pilot.press("end", "!")
    assert "changed: completion" in said("#edit-help")
    await pilot.press("tab")
    assert "editing" in said("#edit-prompt-label") and "editing" not in said("#edit-completion-label")
    await pilot.press("x")
    assert "changed: prompt, completion" in said("#edit-help")
    await pilot.press("escape")
    assert not isinstance(app.screen, EditScreen)
    assert "approved" not in statuses(project_dir).values()  # esc saved nothing


async def test_space_then_J_selects_one_row_a_key_and_says_how_many(pilot):
    app = pilot.app
    pane = queue(app)
    await pilot.press("space", "J", "J", "J")
    assert sorted(pane.rows.selected) == [0, 1, 2, 3]
    assert "4 selected" in str(pane.query_one(".info-line").content)
    await pilot.press("K")  # back up: the row under the cursor (4) is selected, none unselected
    assert sorted(pane.rows.selected) == [0, 1, 2, 3, 4]
    assert "5 selected" in str(pane.query_one(".info-line").content)


async def test_enter_on_a_filter_dropdown_applies_the_filter(pilot):
    """On a closed dropdown `enter` applies (it reopened the menu); in the open menu it picks."""
    from brewslm_tui.ui.review.filters import FilterScreen

    app = pilot.app
    pane = queue(app)
    await pilot.press("slash", "tab")  # the run dropdown
    assert isinstance(app.screen, FilterScreen)
    await pilot.press("space")  # open the menu; down to the second run; enter picks it
    await pilot.pause()
    await pilot.press("down", "down", "enter")
    await pilot.pause()
    assert isinstance(app.screen, FilterScreen), "picking from the menu must not apply yet"
    await pilot.press("enter")  # the menu is closed: enter applies
    await pilot.pause()
    assert not isinstance(app.screen, FilterScreen)
    assert pane.filters.run is not None
    assert len(pane.rows.view) in (10, 30)
    assert {app.store.run_of(pane.rows.view[k]) for k in range(len(pane.rows.view))} == {pane.filters.run}


async def test_sort_the_queue_and_choose_its_columns(tmp_path):
    """S cycles created -> run -> length -> label; the palette names each order; C picks the
    columns; a decision in a sorted queue moves the cursor to the next row in that order."""
    from brewslm_tui.ui.review.column_picker import ColumnPicker
    from brewslm_tui.ui.shell.commands import palette_commands
    from tests.helpers import make_project

    rows = make_rows(6, run="synth-2026-05-30-zzzz") + make_rows(6, run="synth-2026-05-29-aaaa", start=6)
    for k, row in enumerate(rows):
        row["completion"] = ["positive", "negative", "neutral"][k % 3]
        row["prompt"] = row["prompt"] + " x" * (k * 7 % 11)
    root = make_project(tmp_path, sample="sentiment", rows=rows).root
    app = build_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        pane = queue(app)
        store = app.store

        def order():
            return [pane.rows.view[k] for k in range(len(pane.rows.view))]

        assert order() == sorted(order())  # created: the order rows landed
        await pilot.press("S")
        await until(pilot, lambda: not pane.sorter.running, "the sort")
        assert pane.sort == "run"
        runs = [store.run_of(s) for s in order()]
        assert runs == sorted(runs) and runs[0] == "synth-2026-05-29-aaaa"
        await pilot.press("S")
        await until(pilot, lambda: not pane.sorter.running, "the sort")
        assert pane.sort == "length"
        sizes = [len(store.raw_line(s)) for s in order()]
        assert sizes == sorted(sizes) and sizes[0] < sizes[-1]
        await pilot.press("S")
        await until(pilot, lambda: not pane.sorter.running, "the sort")
        labels = [store.label_of(s) or "" for s in order()]
        assert pane.sort == "label" and labels == sorted(labels)
        assert "sorted by label" in str(pane.query_one(".info-line").render())
        # a decision keeps the order and lands the cursor on the next row in it
        await pilot.press("g")
        first, second = order()[:2]
        await pilot.press("a")
        assert statuses(root)[store.id_of(first)] == "approved"
        assert pane.rows.cursor_slot == second
        assert order() == sorted(order(), key=lambda s: (store.label_of(s) or "", s))
        titles = [c.title for c in palette_commands(app.screen)]
        assert {
            "Sort by created",
            "Sort by run",
            "Sort by length",
            "Sort by label",
            "Choose columns…",
        } <= set(titles)
        await pilot.press("S")
        await until(pilot, lambda: not pane.sorter.running, "the sort")
        assert pane.sort == "created" and order() == sorted(order())
        # columns: hide the completion, show playbook and length
        await pilot.press("C")
        assert isinstance(app.screen, ColumnPicker)
        options = app.screen.query_one("#column-options")
        marks = [str(options.get_option_at_index(k).prompt)[:4] for k in range(options.option_count)]
        assert marks == ["[x] ", "[x] ", "[ ] ", "[ ] ", "[ ] "]  # shown or not: a mark, not a colour
        await pilot.press("space", "j", "j", "space", "j", "j", "space", "enter")
        assert not isinstance(app.screen, ColumnPicker)
        assert pane.rows.columns == ("run", "playbook", "length")
        title = pane.rows.render_line(0).text
        assert "playbook" in title and "length" in title and "completion" not in title
