"""Qt-free logic behind the desktop app's screens, tested without widgets.

The wizard's state machine, the chat conversation and its figures, log filtering and the tray's
summary live here so that `cocoon_desktop/ui/` holds only widgets and adapters.
"""
