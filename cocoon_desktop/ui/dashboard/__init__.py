"""The dashboard: GPU cards, host, engine and serving panels."""
