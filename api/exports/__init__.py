"""Exports over HTTP: a service's data, or all of an association's, in open formats, downloaded while they
last."""
