"""The control plane's own backup: a portable dump of every table, and its restore (``provisioner db``)."""
