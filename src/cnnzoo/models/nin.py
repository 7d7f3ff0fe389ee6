"""nin family (to be written)."""
