"""Recurring work kept in the database: backups, drills, update windows, health sweeps."""
