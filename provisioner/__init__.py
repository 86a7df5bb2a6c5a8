"""provisioner: the control plane that runs per-tenant services for associations on a lab's servers."""

__version__ = "0.1.0"
