"""Tests of accounts/."""
