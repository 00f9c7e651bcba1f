"""The detail pane shows the row's history (issue 10): who decided what and when, read from the
journal in a thread worker once the cursor rests, and shown literally (names and reasons are
untrusted text)."""

from __future__ import annotations

from conftest import on_disk, until

from brewslm_tui.ui.review.review_views import ApprovedPane, DetailPane, QueuePane, RejectedPane


def detail_of(app, pane_type) -> DetailPane:
    return app.screen.query_one(pane_type).query_one(DetailPane)


def drawn(detail: DetailPane) -> str:
    """What the pane draws, segment by segment: markup parsed anywhere would be missing here."""
    return "".join(segment.text for strip in detail._lines for segment in strip)


def history_of(detail: DetailPane) -> str:
    text = detail.text
    at = text.find("\nhistory ")
    return text[at + len("\nhistory ") :] if at >= 0 else ""


async def reject_then_edit_and_approve(pilot, completion: str) -> str:
    """x 2 (wrong_label) on the first queued row, then e on it in the Rejected tab and save:
    the row's id."""
    app = pilot.app
    row_id = app.store.id_of(app.screen.query_one(QueuePane).rows.cursor_slot)
    await pilot.press("x", "2")
    await pilot.press("2", "j")  # the Rejected tab; past the group's header, onto the row
    assert app.store.id_of(app.screen.query_one(RejectedPane).rows.cursor_slot) == row_id
    await pilot.press("e")
    app.screen.query_one("#edit-completion").text = completion
    await pilot.press("ctrl+s")
    await pilot.press("3")  # the Approved tab: the only approved row is under the cursor
    return row_id


async def test_the_pane_shows_who_rejected_then_edited_and_approved(pilot, project_dir, monkeypatch):
    monkeypatch.setenv("BREWSLM_REVIEWER", "ana")
    app = pilot.app
    original = app.store.row(app.screen.query_one(QueuePane).rows.cursor_slot)["completion"]
    row_id = await reject_then_edit_and_approve(pilot, "mixed")
    store = on_disk(project_dir)
    try:
        assert store.row(store.index_of(row_id))["review_status"] == "approved"
    finally:
        store.close()
    detail = detail_of(app, ApprovedPane)
    await until(pilot, lambda: history_of(detail), "the history in the detail pane")
    history = history_of(detail)
    assert history.startswith("rejected wrong_label by ana ")
    assert ", edited and approved by ana " in history
    assert history.endswith(f", original completion {original!r}")
    assert "rejected wrong_label by ana" in drawn(detail)
    assert detail.text.startswith("completion  mixed")  # the label still leads the pane


async def test_hostile_names_and_reasons_are_shown_literally(pilot, monkeypatch):
    name = "[@click=app.quit]eve[/] \x1b[2J"
    monkeypatch.setenv("BREWSLM_REVIEWER", name)
    app = pilot.app
    await pilot.press("x", "tab")
    await pilot.press(*"[bold red]not bold[/bold red]", "enter", "2")  # a note on wrong_label
    await pilot.press("2", "j")
    detail = detail_of(app, RejectedPane)
    await until(pilot, lambda: history_of(detail), "the history in the detail pane")
    history = history_of(detail)
    assert history.startswith(
        "rejected wrong_label ([bold red]not bold[/bold red]) by [@click=app.quit]eve[/] "
    )
    assert "eve[/] \\x1b[2J " in history  # the escape made visible, not sent to the terminal
    shown = drawn(detail)
    assert "([bold red]not bold[/bold red]) by [@click=app.quit]eve[/]" in shown
    assert "\x1b" not in shown
    assert app.is_running


async def test_a_moved_cursor_shows_its_own_rows_history(pilot, monkeypatch):
    """The cursor leaves rows before their history is read: the pane ends on the history of the
    row under the cursor, never a stale one."""
    app = pilot.app
    for slot, reviewer in ((0, "ana"), (1, "bob"), (2, "cy")):
        monkeypatch.setenv("BREWSLM_REVIEWER", reviewer)
        app.store.reject([slot], "off_task")
    app.after_change()
    await pilot.press("2", "j")
    pane = app.screen.query_one(RejectedPane)
    detail = pane.query_one(DetailPane)
    await pilot.press("j", "j", "k")  # all within the debounce
    slot = pane.rows.cursor_slot
    reviewer = {0: "ana", 1: "bob", 2: "cy"}[slot]
    await until(pilot, lambda: history_of(detail), "the history in the detail pane")
    assert history_of(detail).startswith(f"rejected off_task by {reviewer} ")
    assert app.store.id_of(slot) in detail.text
