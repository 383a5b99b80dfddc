"""A per-client rate limit: one token bucket per client key, in this process's memory.

Buckets refill continuously at ``rate_per_s`` up to ``burst`` tokens; a request that needs more tokens than the
bucket holds is refused with the seconds after which it would fit (the 429's Retry-After). At most ``max_clients``
buckets are kept (least recently used dropped first: a dropped client starts again with a full bucket), so that
a stream of spoofed keys cannot grow memory. With several workers each has its own buckets.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class RateLimiter:
    def __init__(
        self, rate_per_s: float, burst: float, *, max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_per_s <= 0 or burst <= 0:
            raise ValueError("rate and burst must be positive")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)

    def take(self, key: str, tokens: float = 1.0) -> float:
        """Spend ``tokens`` of ``key``'s bucket: 0.0 if they were there, else the seconds until they will be
        (nothing is spent then)."""
        now = self._clock()
        held, at = self._buckets.pop(key, (self.burst, now))
        held = min(self.burst, held + (now - at) * self.rate_per_s)
        if held >= tokens:
            held -= tokens
            wait = 0.0
        else:
            wait = (min(tokens, self.burst) - held) / self.rate_per_s
        self._buckets[key] = (held, now)
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return wait
