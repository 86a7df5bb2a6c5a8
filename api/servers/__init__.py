"""Servers over HTTP: adding, changing, draining, bootstrapping and removing them."""
