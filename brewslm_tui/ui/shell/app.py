"""BrewApp: the review app (`brewslm-tui open PROJECT`).

The app owns the store for its lifetime: it opens it with the session lock (a second app on the
same project opens read-only and says who holds the lock), hands the panes one `ReviewService`
(every decision, undo, the read-only policy; its change notification syncs the tab on screen
and the header), polls the store once a second
for rows other processes appended, and on exit (quit, SIGHUP, SIGTERM) compacts and closes.
A SIGKILL loses nothing either: every acknowledged decision is already in the journal.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import sys
import threading
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.theme import Theme
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from brewslm_tui.core.errors import BrewError, LockBusy
from brewslm_tui.core.generation.job_bell import unseen_jobs
from brewslm_tui.core.project import Project, load_project
from brewslm_tui.core.rows import PENDING, REJECTED
from brewslm_tui.core.store.store import Store
from brewslm_tui.core.store.views import RowView
from brewslm_tui.core.text import visible_line
from brewslm_tui.ui.review.filters import Filters
from brewslm_tui.ui.review.modals import pick_reason
from brewslm_tui.ui.review.review_views import ApprovedPane, QueuePane, RejectedPane, ReviewPane
from brewslm_tui.ui.review.service import ReviewService
from brewslm_tui.ui.shell.commands import BrewCommands
from brewslm_tui.ui.shell.deferred import Deferred
from brewslm_tui.ui.shell.disk_probe import DiskState, probe
from brewslm_tui.ui.shell.header import HeaderBar
from brewslm_tui.ui.shell.help_screen import HelpScreen
from brewslm_tui.ui.shell.key_bar import KeyBar
from brewslm_tui.ui.shell.tabs import TABS
from brewslm_tui.ui.shell.text import counted
from brewslm_tui.ui.shell.textual_compat import never_block_on_a_dead_terminal
from brewslm_tui.ui.shell.typeahead import Typeahead

# Colours picked from the xterm 256-colour palette, so a 256-colour terminal over SSH shows
# exactly these and not a muddy approximation of a truecolor theme.
BREW_THEME = Theme(
    name="brew",
    primary="#5fafd7",  # 74
    secondary="#87afaf",  # 109
    accent="#ffaf5f",  # 215
    warning="#ffd75f",  # 221
    error="#ff5f5f",  # 203
    success="#87d787",  # 114
    foreground="#d0d0d0",  # 252
    background="#1c1c1c",  # 234
    surface="#262626",  # 235
    panel="#303030",  # 236
    dark=True,
    variables={
        "footer-key-foreground": "#ffaf5f",
        "block-cursor-background": "#005f87",
        "block-cursor-foreground": "#ffffff",
    },
)

READONLY_BY_REQUEST = "opened with --readonly"
TAKE_OVER = "take-over"  # what run() returns when the user took a freed session over
EXIT_DEADLINE_SECONDS = 60.0  # from SIGHUP/SIGTERM to the end of Textual's shutdown, at most
EXIT_STATUS_FORCED = 3  # the backstop ended the process (nothing lost: the journal replays)
FREEZE_AFTER_SECONDS = 0.5  # see _freeze_heap
LOADING_POLL_SECONDS = 0.03  # while a background load runs (a waitpid per tick)
# the main screen's actions: off while a dialog is over it (11.4), so `u`, `2` or `n` never
# undo, switch the tab or open a form behind it. Textual already leaves the app's own keys out
# of a modal screen's binding chain; this also covers the ways around it: the palette (ctrl+p,
# a priority key, which lists the app's actions), a click on the key bar, run_action.
# ctrl+q still quits from anywhere; `?` shows the keys of the dialog that is open.
MAIN_SCREEN_ACTIONS = frozenset(
    {
        "show_tab",
        "undo",
        "redo",
        "new_job",
        "import_data",
        "export_data",
        "take_over",
        "toggle_sidebar",
        "quarantine",
        "command_palette",
    }
)


class BrewApp(App):
    """Header, jobs sidebar, the five tabs, key bar. Thin: keys -> the review service -> redraw.

    | Key(s) | Description |
    | :- | :- |
    | 1 | The Queue tab. |
    | 2 | The Rejected tab. |
    | 3 | The Approved tab. |
    | 4 | The Runs tab. |
    | 5 | The Balance tab. |
    | u | Undo the last decision. |
    | ctrl+r | Redo the decision last undone. |
    | n | Start a new job. |
    | ? | Help: every key of the view. |
    | i | Import data. |
    | E | Export the candidates. |
    | q | Quit (asks first when jobs are running). |
    | ctrl+t | Reopen this read-only window as the review session (offered only when it can be). |
    | s | Hide or show the jobs sidebar. |
    | Q | The quarantined lines. |
    """

    CSS_PATH = "app.tcss"
    COMMANDS = {BrewCommands}  # noqa: RUF012 (Textual's own commands come after the app's, from it)
    TITLE = "brewslm-tui"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]  # noqa: RUF012 (an instance variable in App)
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]  # noqa: RUF012 (an instance variable in App)

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "show_tab('queue')", "Queue", show=False),
        Binding("2", "show_tab('rejected')", "Rejected", show=False),
        Binding("3", "show_tab('approved')", "Approved", show=False),
        Binding("4", "show_tab('runs')", "Runs", show=False),
        Binding("5", "show_tab('balance')", "Balance", show=False),
        Binding("u", "undo", "Undo"),
        Binding("ctrl+r", "redo", "Redo", show=False),
        Binding("n", "new_job", "New job"),
        Binding("question_mark", "help", "Help"),
        Binding("i", "import_data", "Import…", show=False),
        Binding("E", "export_data", "Export candidates…", show=False),
        Binding("q", "quit", "Quit", show=False),
        Binding("ctrl+t", "take_over", "Take over"),
        Binding("s", "toggle_sidebar", "Hide or show the jobs sidebar", show=False),
        Binding("Q", "quarantine", "Quarantined lines", show=False),
    ]

    def __init__(
        self,
        project: Project,
        store: Store,
        *,
        readonly_reason: str | None = None,
        offer_takeover: bool = False,
    ) -> None:
        super().__init__()
        self.may_take_over = offer_takeover
        self.project = project
        self.store = store
        self.readonly_reason = readonly_reason
        self.review = ReviewService(
            store,
            project,
            readonly_reason=readonly_reason,
            notify=self.notify,
            on_change=self.after_change,
            before_change=self._cancel_question,
        )
        self.unseen_jobs = unseen_jobs(project)  # the bell's count, kept in .brewslm/ across sessions
        self._seen_version = -1
        self._found: dict[object, Widget] = {}  # see `_find`
        self._was_loaded = store.loaded
        self._signals_installed = False
        self._probing = False
        self._run_returned = threading.Event()
        self._disk_files: tuple | None = None
        self._takeover_ready = False
        self._loading_timer: Timer | None = None
        self._store_closed = False
        self._compact_after_run = False
        self._stale: set[str] = set(TABS[1:])  # built when first shown (the Queue is shown first)
        self._poll_error: str | None = None
        # keys typed before every part is mounted wait, then are replayed in order (11.4)
        self.typeahead = Typeahead(
            self, lambda: not self.query("Deferred"), super().on_event, before_replay=self._focus_if_unfocused
        )
        if "TEXTUAL_ANIMATIONS" not in os.environ:
            # over SSH every frame costs bandwidth, and the tab underline's slide alone took
            # six frames (~0.3 s) per tab switch; TEXTUAL_ANIMATIONS=full brings it back
            self.animation_level = "none"
        self.register_theme(BREW_THEME)
        # the theme as the app's first, not a change: assigning `theme` re-parses every
        # stylesheet once the app runs (~35 ms of the first screen); nothing is parsed yet here
        self.set_reactive(App.theme, "brew")
        self.stylesheet.set_variables(self.get_css_variables())
        self.update_classes(
            {name: False for name in self.classes if name.startswith("-theme-")} | {"-theme-brew": True},
            update=False,
        )

    # ------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield HeaderBar(id="header", store=self.store)
        if self.readonly_reason:
            yield Static(self._banner(), id="readonly-banner")
        with Horizontal(id="body"):
            yield Deferred(self._jobs_sidebar, classes="sidebar-slot")
            with TabbedContent(id="tabs", initial="queue"):
                with TabPane("1 Queue", id="queue"):
                    yield QueuePane(self.review, id="queue-pane")
                # the other tabs mount right after the first frame (Deferred), not before it
                with TabPane("2 Rejected", id="rejected"):
                    yield Deferred(lambda: RejectedPane(self.review, id="rejected-pane", deferred=True))
                with TabPane("3 Approved", id="approved"):
                    yield Deferred(lambda: ApprovedPane(self.review, id="approved-pane", deferred=True))
                with TabPane("4 Runs", id="runs"):
                    yield Deferred(self._runs_view)
                with TabPane("5 Balance", id="balance"):
                    yield Deferred(self._balance_view)
        yield KeyBar()

    # built after the first frame (Deferred): their imports are not on the way to it
    def _jobs_sidebar(self):
        from brewslm_tui.ui.jobs.jobs_sidebar import JobsSidebar

        return JobsSidebar(self.store, self.project, id="sidebar")

    def _runs_view(self):
        from brewslm_tui.ui.insight.runs_view import RunsView

        return RunsView(self.store, self.project, id="runs-view")

    def _balance_view(self):
        from brewslm_tui.ui.insight.balance_view import BalanceView

        return BalanceView(self.store, self.project, id="balance-view")

    def active_pane(self) -> ReviewPane | None:
        tab = self.query_one(TabbedContent).active
        found = self.query(f"#{tab}-pane")
        return found.first(ReviewPane) if found else None

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded and self.typeahead.hold(event):
            return
        await super().on_event(event)

    def _focus_if_unfocused(self) -> None:
        """Before a held key is replayed: the main view's part takes the focus if nothing has it
        (the key goes to the focused widget; with none, only the screen's keys worked)."""
        if len(self.screen_stack) == 1 and self.screen.focused is None:
            self._focus_tab(self.query_one(TabbedContent).active)

    def on_mount(self) -> None:
        self._install_signal_handlers()
        self.typeahead.start()
        self._update_header()
        self._seen_version = self.store.version
        self.query_one("#queue-pane", QueuePane).rows.focus()
        # the tab strip out of the focus chain: tab / shift+tab from the rows landed on it, where
        # a, x and enter do nothing and the key bar lost the view's keys (1-5 and clicks switch tabs)
        for strip in self.query("ContentTabs"):
            strip.can_focus = False
        self.set_interval(1.0, self._probe_disk, name="poll-store")
        self.set_timer(FREEZE_AFTER_SECONDS, self._freeze_heap, name="freeze-heap")
        if not self._was_loaded:
            # the background load ends when the child building the column cache exits; checking
            # for that is one waitpid, so look often and show complete counts without delay
            self._loading_timer = self.set_interval(
                LOADING_POLL_SECONDS, self._poll_loading, name="poll-loading"
            )

    def _freeze_heap(self) -> None:
        """Once started (widgets built, imports done): collect, then move every object alive to
        the permanent generation. A full collection then walks only what was made since: it
        took ~55 ms with the startup objects in it, a pause that landed on a random keystroke."""
        if self.query("Deferred"):  # parts still coming: a little later
            self.set_timer(FREEZE_AFTER_SECONDS, self._freeze_heap, name="freeze-heap")
            return
        # the young generations only: a full pass cost ~45 ms on whatever key came then; the
        # ~4k objects of startup garbage it would free (100k project) stay, once, in the frozen heap
        gc.collect(1)
        gc.freeze()

    def _poll_loading(self) -> None:
        """While partly loaded: swap the full columns in as soon as the cache builder is done."""
        with contextlib.suppress(BrewError, OSError):  # poll_store reports it (once) on its next tick
            self.store.refresh()
        if self.store.loaded and self._loading_timer is not None:
            self._loading_timer.stop()
            self.poll_store()

    def on_key(self, event: events.Key) -> None:
        """The key after `x` answers the pane's reason question (runs before the bindings)."""
        pane = getattr(self.screen.focused, "parent", None)  # the asking pane's list has the focus
        if isinstance(pane, ReviewPane) and pane.wants_next_key():
            event.stop()
            event.prevent_default()  # App._on_key, which runs the bindings, is skipped
            pane.answer(event)

    # ------------------------------------------------------------ tabs
    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        self._focus_tab(tab)

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self._show_part(event.pane.id or "")

    def _find(self, selector: str | type[Widget]) -> Widget | None:
        """The first widget of the main screen that `selector` names, or None.

        Remembered while it stays attached: `query` walks and matches the whole screen (~100
        widgets), and the decision path asked it five times a key (about a fifth of an
        approve's CPU time). A widget that left the DOM, or any widget once the app exits
        (`is_attached` is then False), is looked up again, so the "shutting down" guards hold.
        """
        widget = self._found.get(selector)
        if widget is not None and widget.is_attached:
            return widget
        found = self.query(selector)
        widget = found.first() if found else None
        if widget is not None:
            self._found[selector] = widget
        return widget

    def _mounted(self, selector: str):
        """The widget `selector` names, or None while it is not mounted yet (a Deferred part)."""
        widget = self._find(selector)
        return widget if widget is not None and widget.is_mounted else None

    def _when_mounted(self, selector: str, then) -> None:
        """`then(widget)` now, or once the widget is mounted: a key typed in the first frames
        (`2`, `o`, `n`) reaches a part that is built right after them."""
        widget = self._mounted(selector)
        if widget is None:
            self.call_after_refresh(self._when_mounted, selector, then)
        else:
            then(widget)

    def _show_part(self, tab: str) -> None:
        """A tab came on screen: catch it up if stale, focus it (once it is mounted)."""

        def shown(part) -> None:
            if self.query_one(TabbedContent).active != tab:
                return  # another tab was shown meanwhile
            if tab in self._stale:
                self._refresh_part(tab)
            self._focus_tab(tab)

        self._when_mounted(f"#{tab}-pane, #{tab}-view", shown)

    def _focus_tab(self, tab: str) -> None:
        """Focus the tab's part now, not later: `Widget.focus()` queues the change behind the
        keys already in the App's queue, and over SSH `1ax` comes in one read, so the `a x`
        after a tab key went to the pane of the tab just left."""
        part = self._mounted(f"#{tab}-pane, #{tab}-view")
        if isinstance(part, ReviewPane):
            self.screen.set_focus(part.rows)
        elif part is not None:
            focusable = [part] if part.focusable else [w for w in part.query("*") if w.focusable]
            if focusable:
                self.screen.set_focus(focusable[0])

    # ------------------------------------------------------------ store changes
    def can_write(self, what: str) -> bool:
        """The review service's write check, for the parts built around the app (jobs sidebar)."""
        return self.review.can_write(what)

    def _cancel_question(self) -> None:
        """Before a decision (e.g. from the command palette while `x` waited): the question's
        rows may not be what they were."""
        pane = self.active_pane()
        if pane is not None and pane.asking is not None:
            pane.cancel_question()

    def after_change(self) -> None:
        """Only the tab on screen catches up now; the others when they are shown."""
        self._seen_version = self.store.version
        tabs = self._find(TabbedContent)
        if not isinstance(tabs, TabbedContent):
            return  # shutting down: the screen's widgets are going (the poll's timer may still fire)
        active = tabs.active
        for tab in TABS:
            if tab == active:
                self._refresh_part(tab)
            else:
                self._stale.add(tab)
        self._update_header()

    def _refresh_part(self, tab: str) -> None:
        part = self._mounted(f"#{tab}-pane, #{tab}-view")
        if part is not None:  # (one not mounted yet stays stale: it syncs when shown)
            self._stale.discard(tab)
            part.refresh_data()

    # ------------------------------------------------------------ the one-second poll
    def _probe_disk(self) -> None:
        """Stat the data files (and try the session lock) in a thread; see `disk_probe`."""
        if self.review.reviewed:
            self._update_header()  # the session's rows a minute move with the clock
        if self._probing:
            return  # the last probe is still waiting on the disk: one at a time
        self._probing = True
        ask = self.may_take_over
        self.run_worker(
            partial(probe, self.store, ask_session=ask and not self._takeover_ready),
            thread=True,
            group="disk-probe",
            exit_on_error=False,
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "disk-probe" or not event.worker.is_finished:
            return
        self._probing = False
        state = event.worker.result
        if event.state != WorkerState.SUCCESS or not isinstance(state, DiskState):
            return
        if state.files != self._disk_files or not self.store.loaded:
            self._disk_files = state.files
            self.poll_store()
        if state.session_free and not self._takeover_ready:
            self._offer_takeover()

    def _offer_takeover(self) -> None:
        """The window that held the session quit (or died): say so, and offer ctrl+t."""
        self._takeover_ready = True
        self.query_one("#readonly-banner", Static).update(self._banner())
        self.refresh_bindings()
        self.notify(
            "the review session of this project has ended: ctrl+t takes it over (this window becomes writable)",
            severity="information",
            timeout=20,
            markup=False,
        )

    def _banner(self) -> Text:
        if self._takeover_ready:
            words = " read-only: the reviewing window has quit; ctrl+t takes over and makes this one writable"
        else:
            words = " read-only, decisions are off here: " + visible_line(self.readonly_reason or "")
        return Text(words, no_wrap=True, overflow="ellipsis")

    def action_take_over(self) -> None:
        """Reopen this project as the review session (`run_app` builds the new window)."""
        if self._takeover_ready:
            self.exit(result=TAKE_OVER)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in MAIN_SCREEN_ACTIONS and len(self.screen_stack) > 1:
            return False  # a dialog is open: its keys only
        if action == "help" and isinstance(self.screen, HelpScreen):
            return False  # (the help closes on its own `?`)
        if action == "take_over":
            return self._takeover_ready  # listed (key bar, palette) only when it can be done
        return True

    def poll_store(self) -> None:
        """Pick up rows other processes appended (and the end of the background load)."""
        try:
            self.store.refresh()
        except (BrewError, OSError) as error:
            if str(error) != self._poll_error:  # once, not every second
                self._poll_error = str(error)
                self.notify(f"could not read new rows: {error}", severity="error", markup=False)
            return
        self._poll_error = None
        loaded = self.store.loaded
        # (while partly loaded nothing changes until the swap: `refresh` only asks whether the
        # builder is done, so the once-a-second probe no longer redraws the pane, the detail and
        # the header for nothing, a ~5 ms pause a key typed then waited behind)
        if self.store.version != self._seen_version or loaded != self._was_loaded:
            self._was_loaded = loaded
            self.after_change()

    def _update_header(self) -> None:
        header = self._find(HeaderBar)
        if not isinstance(header, HeaderBar):
            return  # shutting down: the screen's widgets are going (a timer may still fire)
        counts = self.store.counts() if self.store.loaded else None
        header.show(
            self.project.name,
            counts,
            len(self.unseen_jobs),
            self.readonly_reason,
            len(self.store.problems),
            (self.review.reviewed, self.review.per_minute()),
        )

    # ------------------------------------------------------------ app-wide actions
    def action_undo(self) -> None:
        """u: take back the last decision (the sentence says exactly what)."""
        self._step_history(self.review.undo(), "undone")

    def action_redo(self) -> None:
        """ctrl+r: re-apply the decision most recently undone (the sentence says what)."""
        self._step_history(self.review.redo(), "redone")

    def _step_history(self, step: tuple[Any, str] | None, verb: str) -> None:
        """After an undo or redo: the cursor on its first row, and a notice of what it did."""
        if step is None:
            return
        decision, what = step
        pane = self.active_pane()
        if pane is not None and decision.idxs:
            pane.rows.move_to_slot(decision.idxs[0])
        self.notify(f"{verb}: {what}", timeout=4, markup=False)

    def action_toggle_sidebar(self) -> None:
        """s: the jobs sidebar off (its 24 columns go to the rows) or back on."""
        body = self.query_one("#body")
        body.toggle_class("-no-sidebar")
        if body.has_class("-no-sidebar") and self.focused is not None and self.focused.id == "sidebar":
            self._focus_tab(self.query_one(TabbedContent).active)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.screen))

    async def action_quit(self) -> None:
        """q / ctrl+q: the jobs sidebar asks first when jobs are running (it owns that question)."""
        from brewslm_tui.ui.jobs.jobs_sidebar import JobsSidebar

        sidebar = self.query(JobsSidebar)
        if sidebar:
            sidebar.first().confirm_quit(self.exit)
        else:
            self.exit()

    def action_new_job(self) -> None:
        """n anywhere: the sidebar's new-job form (it checks the read-only policy itself)."""
        self._when_mounted("#sidebar", lambda sidebar: sidebar.action_new_job())

    def action_import_data(self) -> None:
        from brewslm_tui.ui.data import open_import

        open_import(self)

    def action_quarantine(self) -> None:
        from brewslm_tui.ui.quarantine.quarantine_screen import QuarantineScreen

        if isinstance(self.screen, QuarantineScreen):
            return
        self.push_screen(
            QuarantineScreen(
                self.project, self.store, can_write=self.review.can_write, on_change=self.after_change
            )
        )

    def action_export_data(self) -> None:
        from brewslm_tui.ui.data import open_export

        open_export(self)

    # ------------------------------------------------------------ messages from jobs-ui widgets
    def on_jobs_sidebar_rows_landed(self, message) -> None:
        """A job of this window landed rows: read them now, not at the next probe."""
        self.poll_store()

    def on_jobs_sidebar_job_finished(self, message) -> None:
        """A job ended (here or in another process): notify, ring on failure, count it in the bell."""
        record = message.record
        self.unseen_jobs.add(record.run_id)
        name = visible_line(str(record.playbook or record.run_id))
        landed = int((record.counts or {}).get("usable", 0) or 0)
        if record.state == "succeeded":
            self.notify(
                f"job {name} finished: {counted(landed)} landed in the queue", timeout=6, markup=False
            )
        elif record.state == "failed":
            diagnostic = record.diagnostic
            headline = visible_line(
                (diagnostic.headline if diagnostic is not None else "") or "see the job's diagnostic"
            )
            self.bell()
            self.notify(f"job {name} FAILED: {headline}", severity="error", timeout=15, markup=False)
        else:
            self.notify(f"job {name} {record.state}", severity="warning", timeout=6, markup=False)
        self._update_header()
        self.poll_store()
        self._stale.update(("runs", "balance"))

    def on_jobs_sidebar_job_selected(self, message) -> None:
        """Looked at = highlighted by the user in the sidebar, or opened (not a highlight the
        list moved by itself when a job started)."""
        sidebar = self.query("#sidebar")
        if (sidebar and sidebar.first().has_focus) or len(self.screen_stack) > 1:
            self.unseen_jobs.discard(message.record.run_id)
            self._update_header()

    def on_descendant_focus(self, event) -> None:
        """Focusing the sidebar counts as looking at the job it highlights."""
        if event.widget.id == "sidebar":
            record = getattr(event.widget, "selected_record", None)
            if record is not None and record.run_id in self.unseen_jobs:
                self.unseen_jobs.discard(record.run_id)
                self._update_header()

    def on_review_pane_show_run(self, message: ReviewPane.ShowRun) -> None:
        """The Runs tab with the run highlighted (o on a row: where did this come from?)."""
        self.action_show_tab("runs")
        self._when_mounted("#runs-view", lambda view: view.select_run(message.run_id))

    def on_runs_view_show_run(self, message) -> None:
        queue = self.query_one("#queue-pane", QueuePane)
        queue.set_filters(Filters(run=message.run_id))
        self.action_show_tab("queue")

    def on_runs_view_drop_run(self, message) -> None:
        if not self.review.can_write("drop"):
            return
        run_id, only_rejected = message.run_id, message.only_rejected
        rejected_pane = self.query_one("#rejected-pane", RejectedPane)

        def rejected_of_run() -> list[int]:
            view = RowView(self.store, statuses={REJECTED}, run=run_id)
            return [view[k] for k in range(len(view))]

        def confirm() -> None:
            targets = rejected_of_run()
            if not targets:
                self.notify(f"run {run_id} has no rejected rows to drop", severity="warning", markup=False)
                return
            rejected_pane.confirm_drop(targets, title=f"Drop rows of run {run_id}")

        if only_rejected:
            confirm()
            return
        pending = RowView(self.store, statuses={PENDING}, run=run_id)
        pending_slots = [pending[k] for k in range(len(pending))]
        if not pending_slots:
            confirm()
            return

        def rejected(choice) -> None:
            if choice is None:
                return
            if self.review.reject(pending_slots, choice.reason, choice.note) is not None:
                confirm()

        pick_reason(self, self.project, len(pending_slots), rejected)

    def on_runs_view_regenerate(self, message) -> None:
        if not self.review.can_write("regenerate a run"):
            return
        self._when_mounted("#sidebar", lambda sidebar: sidebar.regenerate(message.run_id))

    # ------------------------------------------------------------ shutdown
    def _install_signal_handlers(self) -> None:
        try:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGHUP, signal.SIGTERM):
                loop.add_signal_handler(sig, self._on_signal)
            self._signals_installed = True
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread (some test runners)

    def _on_signal(self) -> None:
        """SSH dropped or asked to stop: compact first (the terminal may be gone and shutdown
        may not get far), then exit; the store is closed when the app unmounts.

        A backstop ends the process if shutdown still has not got back to `run()` after
        EXIT_DEADLINE_SECONDS: every acknowledged decision is in the journal already, and a
        process that lingers holds the session lock against the next reviewer."""
        if self._compact_after_run:  # started by run() (not a test's run_test): it sets the event
            threading.Thread(target=self._exit_deadline, name="exit-deadline", daemon=True).start()
        self.compact_store()
        self.exit(return_code=0)

    def _exit_deadline(self) -> None:
        if not self._run_returned.wait(EXIT_DEADLINE_SECONDS):
            os._exit(EXIT_STATUS_FORCED)

    def compact_store(self) -> str | None:
        """Fold the journal into synthetic.jsonl; a failure only means the next open replays it.
        Returns what was done (for a line on the terminal), or None."""
        if self._store_closed or not self.review.writable or self.store.journal_size() == 0:
            return None
        try:
            report = self.store.compact()
        except (BrewError, OSError) as error:
            return (
                f"compaction skipped ({error}); every decision is in the journal and replays on the next open"
            )
        return f"decisions folded into the data files: {report}"

    def close_store(self) -> str | None:
        """Compact and close; safe to call twice."""
        if self._store_closed:
            return None
        try:
            return self.compact_store()
        finally:
            self._store_closed = True
            self.store.close()

    def on_unmount(self) -> None:
        if self._signals_installed:
            try:
                loop = asyncio.get_running_loop()
                for sig in (signal.SIGHUP, signal.SIGTERM):
                    loop.remove_signal_handler(sig)
            except (RuntimeError, ValueError):
                pass
        if not self._compact_after_run:
            self.close_store()

    def run(self, *args, **kwargs):
        """As App.run; the final compaction runs after the terminal is restored (it can take
        seconds on a big file, and a frozen last frame would look like a hang)."""
        self._compact_after_run = True
        never_block_on_a_dead_terminal()
        try:
            return super().run(*args, **kwargs)
        finally:
            self._run_returned.set()
            done = self.close_store()
            if done:
                with contextlib.suppress(OSError):  # the terminal is gone (SIGHUP)
                    print(f"brewslm-tui: {done}", file=sys.stderr)


def open_store(
    project: Project, *, readonly: bool | str = False, builder: Any = None
) -> tuple[Store, str | None]:
    """The session store, or a read-only one (with the reason) when another session holds it.
    `readonly` may be the reason itself (the CLI found the project not writable)."""
    # background=True: a big file without a column cache opens with its first rows at once
    # (store.loaded False, the header says "loading…") while a child process builds the rest
    if readonly:
        reason = readonly if isinstance(readonly, str) else READONLY_BY_REQUEST
        return Store.open(project, readonly=True, background=True, builder=builder), reason
    try:
        return Store.open(project, background=True, builder=builder), None
    except LockBusy as busy:
        return Store.open(project, readonly=True, background=True, builder=builder), str(busy)


def build_app(project_path: str | Path, *, readonly: bool | str = False, builder: Any = None) -> BrewApp:
    """The app for a project folder (or its brewslm.toml); used by the CLI and the tests.
    `builder`: the column-cache builder `Store.start_early_builder` started, if any."""
    project = load_project(project_path)
    store, reason = open_store(project, readonly=readonly, builder=builder)
    # only a window made read-only by another session's lock may later take the session over
    return BrewApp(project, store, readonly_reason=reason, offer_takeover=reason is not None and not readonly)


def run_app(project_path: str | Path, *, readonly: bool | str = False, builder: Any = None) -> int:
    """Run the app until the user quits; a read-only window that took the session over (ctrl+t)
    is built again, writable. Returns the exit status."""
    app = build_app(project_path, readonly=readonly, builder=builder)
    while app.run() == TAKE_OVER:
        app = build_app(project_path)
    return app.return_code or 0
