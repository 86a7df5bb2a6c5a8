"""Spaces: an association's own part of a shared instance, at its own address, with its own admin."""
