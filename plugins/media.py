"""Placeholder: filled by the local-backend work (issue 3)."""
