"""Messaging: the one outbox every message the hotline starts goes through.

Any domain may put a message in it (``messaging.outbox.enqueue``) without knowing how
it is sent; the drain that sends (claim -> sending -> sent, retries, WeChat -> SMS
fallback, crash recovery) lives with the providers in bot/ (bot/outreach/outbox.py)
until they move here. This package imports only ``storage/``.
"""
