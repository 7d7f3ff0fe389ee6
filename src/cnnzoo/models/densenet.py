"""densenet family (to be written)."""
