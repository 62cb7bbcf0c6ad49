"""Tests of the web UI, with the Flask test client and headless Chromium."""
