"""sievefile's benchmarks: `python -m benchmarks` runs the waiting suite (see `__main__`); the
other scripts here each measure one thing and are run by hand."""
