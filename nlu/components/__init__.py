"""Rasa graph components of ours, named in config.yml by module path."""
