"""One module per command area; `runner.cli.COMMANDS` imports them lazily."""
