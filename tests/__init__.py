"""The tests: a folder per domain (tests/<package>/), tests/system/ for the whole."""
