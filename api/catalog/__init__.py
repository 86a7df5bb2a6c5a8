"""The catalog over HTTP: the services associations can request, and the modes the lab offers them in."""
