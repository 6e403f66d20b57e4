"""Tests of the whole rather than one domain: import layers, lint, deploy, bench smoke,
privacy, reliability, security, fuzzing, settings."""
