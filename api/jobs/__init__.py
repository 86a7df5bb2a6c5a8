"""Jobs over HTTP: their outcome, their steps as they happen, and cancelling them."""
