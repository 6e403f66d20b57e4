"""Tests of reporting/."""
