"""Keystone PKI/PKIZ tokens: decode, verify, revocation lists, issuing for tests."""
