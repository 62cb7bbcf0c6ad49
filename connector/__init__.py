"""Mail in and out: mail sources behind one interface (connector.sources; IMAP first), the
sync pass, the explicit filing channels, sending. Hands raw mail to mail_archive, whose filing
rules decide where it belongs."""
