"""highway family (to be written)."""
