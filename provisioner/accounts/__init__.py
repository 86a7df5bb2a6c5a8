"""People: accounts, roles, web sessions, invitations and password resets."""
