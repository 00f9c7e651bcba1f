"""The shell's own keys and lines: `s` hides the jobs sidebar, the header counts the rows
reviewed this session and their rate (issue 11, "Expected and missing")."""

from __future__ import annotations

from brewslm_tui.ui.shell.header import HeaderBar


def header(app) -> str:
    return app.screen.query_one(HeaderBar).content.plain


async def test_s_hides_and_shows_the_jobs_sidebar(pilot):
    app = pilot.app
    sidebar = app.screen.query_one("#sidebar")
    rows = app.screen.query_one("#queue-pane").rows
    width = rows.size.width
    assert sidebar.display and sidebar.region.width > 0
    await pilot.press("s")
    await pilot.pause()
    assert sidebar.region.width == 0
    assert rows.size.width >= width + 24 and rows.has_focus
    await pilot.press("s")
    await pilot.pause()
    assert sidebar.region.width > 0 and rows.size.width == width


async def test_the_header_counts_this_sessions_reviews(pilot):
    app = pilot.app
    assert "reviewed" not in header(app)
    await pilot.press("a", "x", "1", "space", "space", "a")
    assert "reviewed 4 4.0/min" in header(app)  # over at least a minute: 4 rows, 4 a minute
    await pilot.press("u")
    assert "reviewed 2 " in header(app)


async def test_keys_that_arrive_in_one_burst_after_a_tab_key_go_to_the_new_tab(pilot):
    """Over SSH keys often come in one packet: `2a1ax1` arrived as one read, and the `a x 1`
    after `1` went to the Rejected pane, which still had the focus (a widget's `focus()` waits
    for the App's queue, behind the keys already in it), so nothing was decided."""
    from conftest import statuses, until
    from textual import events

    app = pilot.app
    await pilot.press("2")
    await until(pilot, lambda: app.screen.focused is app.query_one("#rejected-pane").rows, "Rejected")
    for key in "a1ax1":  # on Rejected (empty) `a` does nothing; in the Queue `a` approves, `x1` rejects
        app.post_message(events.Key(key, key))  # all queued before the first is handled
    root = app.project.root
    await until(pilot, lambda: app.store.counts()["rejected"] == 1, "the burst's rejection")
    await pilot.pause()
    assert app.store.counts()["approved"] == 1
    assert list(statuses(root).values()).count("rejected") == 1
