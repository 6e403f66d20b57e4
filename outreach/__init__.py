"""Outreach: village groups, weekly anti-fraud tips, urgent alerts, and the outbox that
sends each of them to each villager exactly once, paced, outside quiet hours.

groups.py      village groups (village -> township -> county), bulk enrollment, consent
tips.py        responses/tips.yml and the per-subscriber rotation
campaigns.py   plan a push for a scope: one outbox row per recipient
outbox.py      the drain of the one outbox (tips, alerts and the notices other domains
               queue through messaging/outbox.py): claim -> send -> mark by priority;
               pacing, retries, WeChat -> SMS fallback, crash recovery
alerts.py      urgent alerts with a confirmation step and a log
schedules.py   weekly tip schedules and the drain tick, declared to the app's job runner
               (jobs/) by ``periodic_jobs``
web.py         the pages at /police/outreach
quiet_hours.py 21:00-08:00 Beijing time
cli.py         `hotline groups|tips|alert|outbox`

The 订阅 conversation (which village are you in?) is a skill: bot/enrollment.py.
Nothing here imports bot/.
"""
