"""Reusable test utilities: real servers that tests point sievefile at."""
