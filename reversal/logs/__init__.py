"""Pure log evidence: readers, normalization, signatures, attribution, comparison."""
