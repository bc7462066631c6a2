"""The guest side: what the image's init starts inside the VM (see docs/areas/vm.md)."""
