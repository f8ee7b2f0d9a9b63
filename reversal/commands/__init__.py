"""One module per command; each exposes a click ``command`` and imports heavy modules lazily."""
