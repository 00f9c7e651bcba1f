"""A client-side quota: at most N requests and M tokens in any 60 seconds.

A hosted API answers 429 once a quota is spent; honouring Retry-After recovers, but every
refused request is wasted and some providers throttle harder after repeated 429s. The
limiter keeps a log of the last minute's requests (start time, tokens) and makes a request
wait until it fits. A request's tokens are not known until its reply, so it is booked at an
estimate (prompt bytes / 4 + max_tokens, as providers count it against the quota) and the
booking is corrected to the reply's `usage` when it arrives.

`clock` and `sleep` are injectable so a test can drive a minute without waiting one.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

WINDOW = 60.0


class Booking:
    """One request's place in the window; `settle(tokens)` corrects its estimate."""

    __slots__ = ("at", "tokens")

    def __init__(self, at: float, tokens: int) -> None:
        self.at, self.tokens = at, tokens

    def settle(self, tokens: int) -> None:
        self.tokens = tokens


class RateLimiter:
    """Requests wait in `acquire()` until the last minute holds room for them."""

    def __init__(
        self,
        requests_per_minute: int | None,
        tokens_per_minute: int | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rpm, self.tpm = requests_per_minute, tokens_per_minute
        self.clock, self.sleep = clock, sleep
        self._log: deque[Booking] = deque()
        self._lock = asyncio.Lock()

    @property
    def active(self) -> bool:
        return bool(self.rpm or self.tpm)

    async def acquire(self, estimated_tokens: int) -> Booking:
        """Wait until a request of `estimated_tokens` fits the quota; book it and return the booking."""
        async with self._lock:  # first come, first served: waiters do not overtake each other
            while True:
                now = self.clock()
                while self._log and self._log[0].at <= now - WINDOW:
                    self._log.popleft()
                wait = self._wait(now, estimated_tokens)
                if wait <= 0:
                    booking = Booking(now, estimated_tokens)
                    self._log.append(booking)
                    return booking
                await self.sleep(wait)

    def _wait(self, now: float, tokens: int) -> float:
        """Seconds until the oldest bookings that stand in the way leave the window (0: go now)."""
        log = self._log
        if not log:
            return 0.0  # an empty minute always admits one request, however large
        until = 0.0
        if self.rpm and len(log) >= self.rpm:
            until = log[len(log) - self.rpm].at + WINDOW
        if self.tpm:
            excess = sum(b.tokens for b in log) + tokens - self.tpm
            for booking in log:
                if excess <= 0:
                    break
                excess -= booking.tokens
                until = max(until, booking.at + WINDOW)
        return max(0.0, until - now)
