"""Storage shared by every domain: the SQLite database and personal-data protection.

Imports nothing of ours, so ``bot/`` and ``reporting/`` may both depend on it.
"""
