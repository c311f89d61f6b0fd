"""Shared plumbing of the service runtime's HTTP side: settings, database sessions, security,
the one domain-error -> HTTP mapping, logging."""
