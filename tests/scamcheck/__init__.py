"""Tests of scamcheck/."""
