"""An association leaves: its services, backups, accounts and rows deleted, and a deletion record kept."""
