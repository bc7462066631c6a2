"""The engine as the app sees it: supervisor, launcher and sandbox, client, upstream gateway."""
