"""Prefect flow ``supervisor``: replaces the runs of a lost host on the hosts still up.

One run per online host, each on its host's queue. Every ``supervise_seconds`` each run looks
at the pool; only the run on the lowest-numbered online host acts (the others wait), so there
is one actor without a lock, and when the actor's host is lost the next host's run takes over
at its next round. The actor (``flows.replicas.supervise_once``) marks the active runs on
offline hosts' queues Crashed, tops every stage up to its desired replicas on online hosts, and
starts a supervisor run on any online host without one. Why a flow of ours and not a Prefect
automation: docs/decisions.md.
"""

from __future__ import annotations

import logging
import time

from prefect import flow, get_run_logger

from flows.settings import FlowSettings, load_settings

log = logging.getLogger(__name__)


@flow(name="supervisor", retries=3, retry_delay_seconds=5)
def supervisor(host: int, rounds: int | None = None,
               settings: FlowSettings | None = None) -> int:
    """Supervise until stopped (or for ``rounds`` rounds); returns the rounds it acted in."""
    from flows import replicas  # replicas -> deploy -> this module

    settings = settings or load_settings()
    logger = get_run_logger()
    logger.info("supervisor on host %d, every %gs", host, settings.supervise_seconds)
    acted = done = 0
    while rounds is None or done < rounds:
        try:
            runs, online, ids = replicas.observe(settings)
            if replicas.SUPERVISOR not in ids:
                logger.info("the supervisor deployment is gone: stopping")
                break
            if replicas.actor(runs, online) == host:
                acted += 1
                desired = {s: n for s, n in replicas.desired_replicas(settings).items()
                           if s in ids}
                replicas.act(settings, replicas.plan(runs, desired, online), ids, online,
                             logger)
        except Exception:  # the server away for a moment: try again next round
            logger.exception("supervisor round failed; next round in %gs",
                             settings.supervise_seconds)
        done += 1
        time.sleep(settings.supervise_seconds)
    return acted
