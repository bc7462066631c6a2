"""The confidential VM: the engine and the worker in a measured virtual machine (Qt-free).

Host side: the image (`build`, `image`), how to run it (`modes`, `qemu`, `machine`, `gpu`),
what the guest gets (`guest_config`) and tells (`channel`, `events`, `measurement`). Guest side:
`vm/guest/` (the agent the image's init starts). See docs/areas/vm.md.
"""
