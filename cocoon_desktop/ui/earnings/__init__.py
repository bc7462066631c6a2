"""The earnings screen."""
