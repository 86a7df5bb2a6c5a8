"""Instances over HTTP: requested, approved or rejected, their first credentials shown once, then updated,
moved, redeployed and removed."""
