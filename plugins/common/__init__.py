"""Networks and losses shared by the bundled plugins (not a plugin itself)."""
