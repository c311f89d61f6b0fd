"""Pydantic models of the HTTP API (request bodies `XCreate`/`XUpdate`, responses `XPublic`)."""
