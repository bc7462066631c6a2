"""What runs inside the engine process: the inference core, its scheduler and the HTTP API."""
