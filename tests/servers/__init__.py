"""Throwaway real servers for the tests: PostgreSQL, Dovecot, aiosmtpd."""
