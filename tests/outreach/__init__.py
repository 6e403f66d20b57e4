"""Tests of outreach/."""
