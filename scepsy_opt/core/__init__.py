"""The domain layer under every stage."""
