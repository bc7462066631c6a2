"""One Qt adapter per core service: core callbacks in, past-tense signals out.

Widgets talk only to these; the adapters own the core objects and call them through
`run_blocking` / `spawn` so the GUI thread never waits.
"""
