"""Reports, routing to police stations, and the police triage queue (``/police``).

Imports ``storage``, ``responses`` and ``messaging`` only: telling a reporter or a
villager something is a row in the outbox (``messaging.outbox.enqueue``), sent by the
drain in bot/.
"""
