"""A huge row (megabytes of prompt) is shown in bounded parts: the detail pane lays out one
part with the field's size, m / M page through it, and the row list cuts its cells early."""

from __future__ import annotations

from conftest import ready

from brewslm_tui.ui.review.review_views import DETAIL_PART_CHARS, DetailPane
from brewslm_tui.ui.shell.app import build_app
from tests.helpers import make_project, make_rows

SIZE = (100, 30)
HUGE = 3_000_000


def huge_project(tmp_path):
    rows = make_rows(3)
    rows[0]["prompt"] = "Classify: " + "ab" * (HUGE // 2)
    return make_project(tmp_path, sample="sentiment", rows=rows).root


async def test_a_huge_row_shows_one_bounded_part_with_its_size(tmp_path):
    app = build_app(huge_project(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        pane = app.screen.query_one("#queue-pane")
        detail = pane.query_one(DetailPane)
        shown = detail.text
        assert len(shown) < 3 * DETAIL_PART_CHARS  # not the megabytes
        assert f"of {HUGE + 10:,}" in shown and "characters 1-20,000" in shown
        await pilot.press("m")
        assert "characters 20,001-40,000" in detail.text
        await pilot.press("M", "M")  # never before the first part
        assert "characters 1-20,000" in detail.text
        await pilot.press("j")  # another row: the first part of it (a short row, in full)
        assert "characters" not in detail.text and "(#1)" in detail.text
        await pilot.press("k")
        assert "characters 1-20,000" in detail.text  # back on the huge row: from its start
