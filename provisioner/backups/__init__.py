"""Backups with restic: targets, one repository per tenant, backups, restores (in place and into a new
instance) and restore drills. See docs/backups.md."""
