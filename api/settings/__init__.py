"""The lab's mail account and webhook over HTTP (operators), as the portal's settings page and
``provisioner mail`` keep them."""
