"""Hand-written scripts a user of the official SDK would write, to compare sievefile against."""
