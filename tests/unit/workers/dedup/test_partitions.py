"""The dedup state's time partitions: one name per period for every replica, read while any
day of it is within the window, expired once none is."""

from __future__ import annotations

import pytest

from workers.dedup.partitions import DAY, Partitions

P = Partitions("news-dedup-state", window_days=30, partition_days=15)
START = 19_995 * DAY  # 2024-09-29, the first day of a partition (19,995 = 15 x 1,333)


def test_every_moment_of_a_period_writes_to_the_same_partition() -> None:
    names = {P.current(START + s) for s in (0, 1, 7 * DAY, 15 * DAY - 1)}
    assert names == {"news-dedup-state-2024.09.29"}
    assert P.current(START + 15 * DAY) == "news-dedup-state-2024.10.14"
    assert P.current(START - 1) == "news-dedup-state-2024.09.14"


def test_a_partition_expires_when_its_last_day_leaves_the_window() -> None:
    name = P.current(START)
    assert P.start(name) == START
    assert not P.expired(name, START + 45 * DAY - 1)
    assert P.expired(name, START + 45 * DAY)
    assert not P.expired("news-dedup-state", START + 1000 * DAY)  # not a partition
    assert not P.expired("news-dedup-state-old", START + 1000 * DAY)


def test_readable_are_the_partitions_within_the_window_oldest_first() -> None:
    existing = [P.current(START - 15 * DAY), P.current(START), "news-dedup-state",
                "news-dedup-state-junk", P.current(START + 100 * DAY)]
    now = START + 31 * DAY  # the first of these expired a day ago; the future one is not read
    assert P.readable(existing, now) == [
        "news-dedup-state-2024.09.29", "news-dedup-state-2024.10.29"]


@pytest.mark.parametrize("window,partition", [(0, 1), (1, 0)])
def test_window_and_partition_are_at_least_a_day(window: int, partition: int) -> None:
    with pytest.raises(ValueError):
        Partitions("x", window, partition)
