"""Mail in and out: IMAP accounts, filing rules, sending. Hands raw mail to mail_archive."""
