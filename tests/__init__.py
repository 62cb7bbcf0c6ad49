"""Dossier's test suite: real servers, and real data read from ../shared/corpora."""
