"""Tests of nlu/."""
