"""Associations over HTTP: added by operators, with their quotas and use, and the tokens made for them."""
