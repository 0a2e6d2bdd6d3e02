"""A call router: tries a first destination, falls back to a second one when it is busy."""
