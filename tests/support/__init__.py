"""Helpers shared by test suites (services, stores, servers); not tests themselves."""
