"""HTTP API and portal. Thin: parse, authorize, call a service, render."""
