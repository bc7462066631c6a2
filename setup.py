"""Only what pyproject.toml cannot say: the packages, with the repository's top-level
resources/ folder (icons, desktop file) shipped inside the wheel as `cocoon_desktop.resources`."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["cocoon_desktop", "cocoon_desktop.*"]),
              "cocoon_desktop.resources"],
    package_dir={"cocoon_desktop.resources": "resources"},
)
