"""Spaces over HTTP: an association's place in a shared instance, requested, approved, watched and removed."""
