"""Any reason group is two keys away in Rejected, and a group drop from the Queue takes five:
2 ' <reason key> d y (issue 11, "Reaching a reason group")."""

from __future__ import annotations

from conftest import ready, statuses

from brewslm_tui.core.store.store import Store
from brewslm_tui.ui.review.modals import ConfirmScreen
from brewslm_tui.ui.review.row_list import Group
from brewslm_tui.ui.shell.app import build_app
from tests.helpers import make_project, make_rows


def four_groups(tmp_path):
    project = make_project(tmp_path, sample="sentiment", rows=make_rows(40))
    store = Store.open(project)
    for k, reason in enumerate(["label_ambiguous", "wrong_label", "minor_typo", "off_task"]):
        store.reject(range(4 * k, 4 * k + 3), reason)
    store.compact()
    store.close()
    return project.root


async def test_a_group_drop_from_the_queue_takes_five_keys(tmp_path):
    root = four_groups(tmp_path)
    app = build_app(root)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await pilot.press("2", "apostrophe", "4")  # off_task's key in the sample is 4
        rows = app.screen.query_one("#rejected-pane").rows
        item = rows.cursor_item
        assert isinstance(item, Group) and item.reason == "off_task"
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen) and "off_task 3" in app.screen.summary
        await pilot.press("y")
    on = statuses(root)
    assert list(on.values()).count("dropped") == 3
    assert list(on.values()).count("rejected") == 9


async def test_brackets_move_between_groups_and_z_folds_them_all(tmp_path):
    app = build_app(four_groups(tmp_path))
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await pilot.press("2")
        rows = app.screen.query_one("#rejected-pane").rows

        def at() -> str | None:
            item = rows.cursor_item
            return item.reason if isinstance(item, Group) else None

        first = at()
        await pilot.press("right_square_bracket")
        second = at()
        assert second is not None and second != first
        await pilot.press("j", "left_square_bracket")  # inside a group: [ goes to its header
        assert at() == second
        await pilot.press("left_square_bracket")
        assert at() == first
        await pilot.press("z")
        assert len(rows.lines) == 4 and all(not g.expanded for g in rows.lines.groups)
        await pilot.press("z")
        assert len(rows.lines) == 4 + 12
        await pilot.press("apostrophe", "9")  # no reason has key 9: the cursor stays
        assert at() == first
