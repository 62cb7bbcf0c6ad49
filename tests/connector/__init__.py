"""Tests of the connector: filing rules, IMAP sync, sending."""
