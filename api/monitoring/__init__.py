"""Schedules, instance health and alerts over HTTP."""
