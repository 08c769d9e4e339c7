"""Fixtures shared by every test area."""
