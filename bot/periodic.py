"""Every domain's periodic work, gathered for the one job runner (jobs/runner.py).

The runner knows no domain: each domain declares its jobs once (``periodic_jobs``), and
this list, like the conversation engine's skills (bot/skills.py), is where the app
hands them over. A domain with periodic work adds its function here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from jobs import Job, runner
from outreach import schedules
from reporting import periodic as reporting_periodic
from review import queue as review_queue
from storage.leader import Leader
from storage.privacy import Vault

DOMAINS = (
    schedules.periodic_jobs,  # the outbox drain tick (woken at once), weekly tips
    reporting_periodic.periodic_jobs,  # the reports' purge, verdict notices, orphan photos
    review_queue.periodic_jobs,  # the review queue's purge
)


def periodic_jobs(config: Mapping[str, Any], vault: Vault) -> list[Job]:
    return [job for declare in DOMAINS for job in declare(config, vault)]


def start_with_app(app: Flask) -> Leader:
    """Start the background scheduler inside the web process (``hotline serve``) when
    this process is (or later becomes) the one leader."""
    found = periodic_jobs(app.config, app.extensions["hotline_vault"])
    leader = runner.lead(app.config["HOTLINE_DB"], found)
    app.extensions["hotline_scheduler_leader"] = leader
    return leader


def run_alone(config: Mapping[str, Any], vault: Vault) -> None:
    """``hotline scheduler``: wait for the leadership, then run in the foreground."""
    runner.lead(config["HOTLINE_DB"], periodic_jobs(config, vault), blocking=True)
