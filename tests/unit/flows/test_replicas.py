"""The supervisor's decisions, as pure logic: where the next replica goes, what a lost host
costs, who acts."""

from __future__ import annotations

from collections import Counter

import pytest
from prefect.client.schemas.objects import StateType

from flows.pool import NoWorkerOnlineError
from flows.replicas import Run, actor, place, plan

RUNNING, SCHEDULED = StateType.RUNNING, StateType.SCHEDULED


def runs(*specs: tuple[str, int | None]) -> list[Run]:
    return [Run(f"r{i}", what, host, RUNNING) for i, (what, host) in enumerate(specs)]


def test_the_next_replica_goes_to_the_host_with_fewest_of_that_stage_then_the_lowest() -> None:
    assert place(Counter({1: 2, 2: 1, 3: 1}), [1, 2, 3]) == 2
    assert place(Counter(), [2, 3]) == 2
    assert place(Counter({1: 1}), [1, 3]) == 3
    # A tie on the stage's own runs goes to the host with the fewest runs of any stage.
    assert place(Counter(), [1, 2, 3], Counter({1: 2, 2: 1})) == 3


def test_replicas_are_spread_evenly_over_the_online_hosts() -> None:
    todo = plan([], {"clean": 3, "index": 2}, [1, 2])
    assert Counter(todo.start) == Counter({("clean", 1): 2, ("clean", 2): 1, ("index", 1): 1,
                                           ("index", 2): 1, ("supervisor", 1): 1,
                                           ("supervisor", 2): 1})
    assert not todo.crash and not todo.cancel


def test_one_replica_of_each_stage_uses_every_host() -> None:
    todo = plan([], {"clean": 1, "dedup": 1, "entities": 1, "index": 1}, [1, 2, 3])
    hosts = Counter(host for what, host in todo.start if what != "supervisor")
    assert hosts == Counter({1: 2, 2: 1, 3: 1})


def test_nothing_to_do_when_every_stage_and_host_is_covered() -> None:
    current = runs(("clean", 1), ("clean", 2), ("supervisor", 1), ("supervisor", 2))
    assert not plan(current, {"clean": 2}, [1, 2])


def test_a_lost_hosts_runs_are_crashed_and_replaced_on_the_survivors() -> None:
    current = runs(("clean", 1), ("clean", 2), ("index", 2), ("index", 3), ("supervisor", 1),
                   ("supervisor", 2), ("supervisor", 3))
    todo = plan(current, {"clean": 2, "index": 2}, [1, 3])
    assert {(r.what, r.host) for r in todo.crash} == {("clean", 2), ("index", 2),
                                                      ("supervisor", 2)}
    assert sorted(todo.start) == [("clean", 3), ("index", 1)]
    assert not todo.cancel


def test_scaling_down_cancels_from_the_most_loaded_host_not_yet_running_first() -> None:
    current = [Run("a", "clean", 1, RUNNING), Run("b", "clean", 1, SCHEDULED),
               Run("c", "clean", 2, RUNNING), Run("s1", "supervisor", 1, RUNNING),
               Run("s2", "supervisor", 2, RUNNING)]
    todo = plan(current, {"clean": 2}, [1, 2])
    assert [r.id for r in todo.cancel] == ["b"] and not todo.start


def test_stages_not_asked_for_are_left_alone_and_extra_supervisors_cancelled() -> None:
    current = runs(("clean", 1), ("supervisor", 1), ("supervisor", 1), ("supervisor", None))
    todo = plan(current, {}, [1])
    assert [r.id for r in todo.cancel] == ["r2", "r3"] and not todo.start


def test_no_online_host_is_an_error_that_says_so() -> None:
    with pytest.raises(NoWorkerOnlineError, match="no Prefect worker"):
        plan([], {"clean": 1}, [])


def test_the_lowest_online_host_with_a_running_supervisor_acts() -> None:
    sups = runs(("supervisor", 1), ("supervisor", 2), ("supervisor", 3))
    assert actor(sups, [1, 2, 3]) == 1
    assert actor(sups, [2, 3]) == 2  # host 1 lost: host 2 takes over
    assert actor([Run("x", "supervisor", 1, SCHEDULED), *sups[1:]], [1, 2, 3]) == 2
    assert actor(runs(("clean", 1)), [1]) is None
