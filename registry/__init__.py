"""The registry of promotion activities the county medical-insurance bureau authorised,
and the check that answers "is the team in front of me real?" (registry/activities.py)."""
