"""Notices people get: operators hear of waiting requests and failures, associations' admins of their
requests and services. Queued in the transaction of what happened, sent later by a worker, each in its
recipient's language, as plain text with an HTML alternative and, for the lab, to its webhook."""
