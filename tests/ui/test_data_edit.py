"""The edit screen runs the project's validator: an invalid edit is refused and its text kept."""

from __future__ import annotations

import shutil

from conftest import ready
from test_review_flows import disk_row

from brewslm_tui.core.project import load_project
from brewslm_tui.core.store.store import append_rows
from brewslm_tui.ui.review.modals import EditScreen
from brewslm_tui.ui.shell.app import build_app
from tests.helpers import REPO, make_project, make_rows

SIZE = (120, 36)


async def edit_to(app, pilot, completion: str) -> EditScreen:
    await pilot.press("e")
    screen = app.screen
    assert isinstance(screen, EditScreen)
    screen.query_one("#edit-completion").text = completion
    await pilot.press("ctrl+s")
    await pilot.pause()
    return screen


async def test_edit_refuses_a_label_that_is_not_the_projects(tmp_path):
    root = make_project(tmp_path, sample="sentiment", rows=make_rows(3)).root
    app = build_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)  # a key before that is held (typeahead), replayed later
        row_id = app.store.id_of(0)
        screen = await edit_to(app, pilot, "negatve")
        assert app.screen is screen  # still open, the text kept for fixing
        assert screen.query_one("#edit-completion").text == "negatve"
        shown = str(screen.query_one("#edit-problems").render())
        assert "not_a_label" in shown
        assert disk_row(root, row_id)["review_status"] == "pending"
        screen.query_one("#edit-completion").text = "negative"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not isinstance(app.screen, EditScreen)
    row = disk_row(root, row_id)
    assert row["review_status"] == "approved" and row["completion"] == "negative"


async def test_edit_refuses_a_broken_json_object(tmp_path):
    root = tmp_path / "support"
    shutil.copytree(
        REPO / "sample_projects" / "support-extraction",
        root,
        ignore=shutil.ignore_patterns(".brewslm", "synthetic.jsonl", "dropped.jsonl"),
    )
    fields = '{"order_id": "A1", "product": "kettle", "issue_type": "damaged", "requested_action": "refund"}'
    append_rows(
        load_project(root),
        [{"id": "x1", "prompt": "My kettle A1 arrived dented, refund please", "completion": fields}],
    )
    app = build_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)  # a key before that is held (typeahead), replayed later
        screen = await edit_to(app, pilot, '{"order_id": "A1", "product": ')
        assert app.screen is screen
        assert "bad_json" in str(screen.query_one("#edit-problems").render())
        screen.query_one("#edit-completion").text = '{"order_id": "A1"}'
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is screen and "wrong_fields" in str(screen.query_one("#edit-problems").render())
    assert disk_row(root, "x1")["review_status"] == "pending"


async def test_edit_picks_a_label_from_the_projects_list(tmp_path):
    from brewslm_tui.ui.review.modals import LabelPicker

    root = make_project(tmp_path, sample="sentiment", rows=make_rows(3)).root
    app = build_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)  # a key before that is held (typeahead), replayed later
        row_id = app.store.id_of(0)
        await pilot.press("e")
        screen = app.screen
        assert isinstance(screen, EditScreen)
        await pilot.press("ctrl+l")
        assert isinstance(app.screen, LabelPicker)
        await pilot.press("down", "down", "down", "enter")  # the fourth label
        assert app.screen is screen
        assert screen.query_one("#edit-completion").text == "mixed"
        await pilot.press("ctrl+l", "3")  # or its number
        assert screen.query_one("#edit-completion").text == "neutral"
        await pilot.press("ctrl+s")
        await pilot.pause()
    assert disk_row(root, row_id)["completion"] == "neutral"
