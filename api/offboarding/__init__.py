"""An association's offboarding and its deletion record, over HTTP."""
