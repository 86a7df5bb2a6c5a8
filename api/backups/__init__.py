"""Backups over HTTP: an instance's backups taken, listed and restored, restore drills, and the lab's
backup targets."""
