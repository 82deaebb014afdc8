"""Tests of the rule language (spec §3)."""
