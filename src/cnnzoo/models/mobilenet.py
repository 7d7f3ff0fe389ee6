"""mobilenet family (to be written)."""
