"""Keystone accounts and test.conf for Swift's functional tests; a local keystone/swift stack."""
