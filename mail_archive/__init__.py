"""The message store: raw mail kept as content-addressed blobs, parsed, deduplicated, threaded
and linked to partners, persons and deals. ``ingest`` is the one way in (mail_archive.ingest)."""
