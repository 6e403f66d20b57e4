"""Messaging: the one outbox every message the hotline starts goes through.

Any domain may put a message in it (``messaging.outbox.enqueue``) without knowing how
it is sent; the drain that sends (claim -> sending -> sent, retries, WeChat -> SMS
fallback, crash recovery) is still outreach/outbox.py; the providers it sends
through are ``messaging.providers``. This package imports only ``storage/`` (and
``responses/`` for SMS segment counting).
"""
