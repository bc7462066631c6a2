"""The first-run wizard's widgets; the logic is `cocoon_desktop.ui_logic.wizard`."""
