"""What a run shows a person (or a program): progress while it runs, a summary at the end."""
