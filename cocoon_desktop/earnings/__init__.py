"""earnings package."""
