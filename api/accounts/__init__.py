"""People and tokens over HTTP: sessions, sign-in through the city's identity provider, invitations, password
resets, and the API tokens of the lab and of associations."""
