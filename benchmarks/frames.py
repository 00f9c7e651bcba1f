"""Frame timestamps and keystroke-to-repaint timing for a Textual app under the headless driver.

How a repaint is observed (Textual 8). A widget's `refresh()` marks it dirty; when the screen
goes idle it resumes its update timer (at most `1/TEXTUAL_FPS` s later, 60 fps by default), and
the timer composes the dirty regions and hands the result to `App._display`. That call is the
frame: the moment a real terminal would receive the bytes. The headless driver skips turning the
update into escape sequences, so `FrameClock` wraps `app._display` and does that work itself
(`render_segments`), then stamps the frame with `time.perf_counter()`.

Why not time `pilot.press`: it waits for the process to look idle (`wait_for_idle`, at least
one 20 ms sleep per key) and returns neither at the repaint nor promptly, so it cannot measure
a 20 ms budget. Here a key is posted exactly as `Pilot.press` posts it (`driver.send_message`
of an `events.Key`), then we wait for its effect (a predicate on app state, so an unrelated
timer frame is never taken for the answer) and for the app to go quiet (no dirty widgets, no
queued messages, update timer paused, no frame for 3 update periods). The latency is the last
frame between the key and quiet: the moment the screen shows the whole effect of the key.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import unicodedata
from collections.abc import Callable

from textual import events
from textual.keys import REPLACED_KEYS, _character_to_key, _get_unicode_name_from_key

QUIET = 3 / 60  # no frame for this long (three update periods) = the key's repaint is over


class FrameClock:
    """Records the time of every frame the app displays; calls `on_frame(t)` hooks."""

    def __init__(self, app, *, serialize: bool = True) -> None:
        self.app = app
        self.times: list[float] = []
        self.cpu: list[float] = []  # process CPU time at each frame: the cost, apart from waiting
        self.hooks: list[Callable[[float], None]] = []
        self.serialize = serialize
        original = app._display

        def display(screen, renderable):
            original(screen, renderable)
            if renderable is None or app._batch_count:
                return
            if serialize and hasattr(renderable, "render_segments"):
                renderable.render_segments(app.console)  # what a real terminal driver would do
            t = time.perf_counter()
            self.times.append(t)
            self.cpu.append(time.process_time())
            for hook in list(self.hooks):
                hook(t)

        app._display = display

    def frames_after(self, t: float) -> list[float]:
        return [x for x in self.times if x > t]


def key_event(key: str) -> events.Key:
    """The Key event `Pilot.press(key)` would send (same name/character mapping)."""
    if len(key) == 1 and not key.isalnum():
        key = _character_to_key(key)
    original = REPLACED_KEYS.get(key, key)
    try:
        char = unicodedata.lookup(_get_unicode_name_from_key(original))
    except KeyError:
        char = key if len(key) == 1 else None
    return events.Key(key, char)


def _busy(app) -> bool:
    screen = app.screen
    if (
        screen._dirty_widgets
        or screen._layout_required
        or screen._repaint_required
        or screen._scroll_required
    ):
        return True
    if screen._update_timer._active.is_set():
        return True
    return any(pump._message_queue.qsize() for pump in (app, screen, *screen.walk_children(with_self=False)))


async def settle(
    app,
    clock: FrameClock,
    *,
    since: float = 0.0,
    done: Callable[[], bool] = lambda: True,
    timeout: float = 60.0,
) -> None:
    """Wait until `done()` holds and the app is quiet: no frame since `since` or the last frame
    for QUIET seconds, nothing dirty or queued (see the module docstring)."""
    deadline = time.perf_counter() + timeout
    while True:
        await asyncio.sleep(0.002)
        now = time.perf_counter()
        if now > deadline:
            raise TimeoutError("the app did not settle")
        if not done():
            continue
        last = clock.times[-1] if clock.times else since
        if now - max(last, since) >= QUIET and not _busy(app):  # _busy walks the widgets: last
            return


def send_key(app, clock: FrameClock, key: str) -> tuple[float, int, float]:
    """Post one key exactly as `Pilot.press` does; returns the (time, frame count, CPU time) at
    the press, for `timed_effect`. Synchronous, so it can be called from inside app code (a key
    pressed while the app is busy: the background swap)."""
    event = key_event(key)
    event.set_sender(app)
    mark = (time.perf_counter(), len(clock.times), time.process_time())
    app._driver.send_message(event)
    return mark


async def timed_effect(
    app,
    clock: FrameClock,
    mark: tuple[float, int, float],
    *,
    effect: Callable[[], bool] | None = None,
    timeout: float = 60.0,
) -> dict:
    """Wait for a sent key's effect and quiet; {'ms': key-to-last-frame, 'first_ms', 'cpu_ms', 'frames'}."""
    t0, n0, c0 = mark
    await settle(app, clock, since=t0, done=effect or (lambda: True), timeout=timeout)
    frames = clock.times[n0:]
    return {
        "ms": (frames[-1] - t0) * 1000 if frames else None,
        "first_ms": (frames[0] - t0) * 1000 if frames else None,
        "cpu_ms": (clock.cpu[-1] - c0) * 1000 if frames else None,
        "frames": len(frames),
    }


async def press(
    app, clock: FrameClock, key: str, *, effect: Callable[[], bool] | None = None, timeout: float = 60.0
) -> dict:
    """Press one key; return {'ms': key-to-last-frame, 'first_ms', 'frames'} (ms None if no frame)."""
    await settle(app, clock, timeout=timeout)  # the previous key's effects are over
    return await timed_effect(app, clock, send_key(app, clock, key), effect=effect, timeout=timeout)


def summarize(samples: list[float | None]) -> dict:
    """median / p95 / min / max of the samples in ms (None = the key caused no frame)."""
    xs = sorted(x for x in samples if x is not None)
    if not xs:
        return {
            "n": len(samples),
            "median": None,
            "p95": None,
            "min": None,
            "max": None,
            "no_frame": len(samples),
        }
    p95 = xs[min(len(xs) - 1, max(0, round(0.95 * len(xs)) - 1))]
    return {
        "n": len(samples),
        "median": statistics.median(xs),
        "p95": p95,
        "min": xs[0],
        "max": xs[-1],
        "no_frame": len(samples) - len(xs),
    }


def summarize_presses(presses: list[dict]) -> dict:
    """`summarize` of the key-to-repaint times, plus the CPU time and frame count per key."""
    out = summarize([p["ms"] for p in presses])
    out["first_frame"] = summarize([p["first_ms"] for p in presses])
    out["cpu"] = summarize([p["cpu_ms"] for p in presses])
    out["frames_median"] = statistics.median([p["frames"] for p in presses]) if presses else None
    return out


def memory() -> dict:
    """RSS, anonymous (non file-backed) memory and peak RSS of this process, in MB (Linux)."""
    out = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
                    out[key] = int(value.split()[0]) / 1024
    except OSError:
        pass
    return {
        "rss_mb": out.get("VmRSS"),
        "anon_mb": out.get("RssAnon"),
        "file_mb": out.get("RssFile"),
        "peak_rss_mb": out.get("VmHWM"),
    }
