"""Click commands, one module per area; registered lazily in `runner.cli.COMMANDS`."""
