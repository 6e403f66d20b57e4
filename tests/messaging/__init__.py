"""Tests of messaging/."""
