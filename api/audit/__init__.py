"""The audit log over HTTP: every change recorded by a middleware, and read by those who may."""
