"""Evidence: artifact files, manifest, timeline and reports."""
