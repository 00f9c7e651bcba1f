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
