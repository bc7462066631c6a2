"""The test chat window."""
