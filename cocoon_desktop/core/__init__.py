"""Plumbing every other package stands on: tasks and blocking calls,
listeners, the app's folders, logging."""
