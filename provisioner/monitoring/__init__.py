"""Watching what runs: server metrics over one SSH command per server, health sweeps over HTTP."""
