"""Pinned requirements of the stack's venvs (data files; a package so wheels ship them)."""
