"""One module of migrations per domain; ``storage.schema`` applies them in order."""
