"""Reports, routing to police stations, and the police triage queue (``/police``).

Imports ``storage`` and ``responses`` only; the bot hands it what it needs (the
reporter notifier is ``current_app.extensions["hotline_notify"]``).
"""
