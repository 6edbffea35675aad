"""Check types. Each type is a module with a `Check` subclass and its config model."""
