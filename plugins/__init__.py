"""sievefile's built-in plugins; each module is one plugin (see runner.plugins.DEFAULT_PLUGINS)."""
