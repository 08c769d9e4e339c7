"""A sample plugin with a misspelled hook name: sievefile reports it and skips the plugin."""

from runner import hookimpl


@hookimpl
def run_finishd() -> None:
    """Misspelled on purpose (`run_finished`)."""
