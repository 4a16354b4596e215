"""Dialogs: keyboard shortcuts help, import and export."""
