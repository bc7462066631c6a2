"""Icons and other files the app ships (SVG, drawn for this project)."""

from __future__ import annotations

from pathlib import Path

RESOURCES_DIR = Path(__file__).resolve().parent


def resource_path(name: str) -> Path:
    """The path of a shipped file; FileNotFoundError names it when a build left it out."""
    path = RESOURCES_DIR / name
    if not path.is_file():
        raise FileNotFoundError(f"{name} is missing from the app's resources ({RESOURCES_DIR})")
    return path
