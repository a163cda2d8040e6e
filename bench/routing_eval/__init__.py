"""Routing quality evaluation on public, externally labelled data (see README.md here)."""
