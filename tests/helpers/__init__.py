"""Helpers the tests share: plain code (constants, fakes, builders). Fixtures live in
tests/conftest.py (or a folder's own conftest.py); tests take those, never import them."""
