"""Where the shopper's emails go: a mail server over SMTP, or ``.eml`` files."""
