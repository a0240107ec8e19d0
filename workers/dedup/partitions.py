"""Which time partition of the dedup state is written, which are read, and which have expired.

The dedup state lives in indices ``<base>-YYYY.MM.DD``, each covering ``partition_days`` days
from its date (partitions are counted from 1970-01-01, so every replica names the same one).
A partition is read while any of its days is within ``window_days`` of now, and expired
(deleted whole: the local Elasticsearch has no ``delete_by_query``) once all of them are
older: a fingerprint stays a candidate for at least ``window_days`` and at most
``window_days + partition_days``. Pure arithmetic over epoch seconds and index names; the
store (``workers.dedup.es_store``) does the requests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

DAY = 86_400  # seconds
_DATE = re.compile(r"^\d{4}\.\d{2}\.\d{2}$")


@dataclass(frozen=True)
class Partitions:
    base: str  # e.g. news-dedup-state; partitions are news-dedup-state-2026.12.01, ...
    window_days: int
    partition_days: int

    def __post_init__(self) -> None:
        if self.window_days < 1 or self.partition_days < 1:
            raise ValueError("the dedup window and partition length are at least one day")

    @property
    def pattern(self) -> str:
        """Wildcard matching every partition (and nothing else of ours)."""
        return f"{self.base}-*"

    def current(self, now: float) -> str:
        """The partition written at ``now`` (epoch seconds)."""
        day = int(now // DAY)
        return self._name(day - day % self.partition_days)

    def start(self, index: str) -> float | None:
        """Epoch seconds at which ``index`` begins; None if it is not one of our partitions."""
        prefix = f"{self.base}-"
        if not index.startswith(prefix) or not _DATE.match(suffix := index[len(prefix):]):
            return None
        return datetime.strptime(suffix, "%Y.%m.%d").replace(tzinfo=UTC).timestamp()

    def expired(self, index: str, now: float) -> bool:
        """Whether every day of partition ``index`` is older than the window."""
        start = self.start(index)
        if start is None:
            return False
        return start + (self.partition_days + self.window_days) * DAY <= now

    def readable(self, existing: list[str], now: float) -> list[str]:
        """Of the ``existing`` indices, the partitions within the window, oldest first; the
        current partition always (it is created before anything is written)."""
        current = self.current(now)
        keep = {i for i in existing if self.start(i) is not None and not self.expired(i, now)
                and i <= current}
        return sorted(keep | {current})

    def _name(self, day: int) -> str:
        date = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=day)
        return f"{self.base}-{date:%Y.%m.%d}"
