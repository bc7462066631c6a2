"""OS integration that is not hardware: autostart at login, update checks."""
