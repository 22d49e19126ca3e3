"""Data shipped with recheck: the known-failure signature file and its builder."""
