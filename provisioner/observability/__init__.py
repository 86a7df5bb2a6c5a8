"""What the lab shows its own monitoring: figures for Prometheus."""
