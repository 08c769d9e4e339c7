"""The local backend: the Sieve API served by sievefile itself."""
