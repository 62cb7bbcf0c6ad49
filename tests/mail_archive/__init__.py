"""Tests of the mail archive: parsing, ingest, sanitizing, TNEF, the corpus."""
