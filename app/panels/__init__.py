"""Dock panels of the main window: images, labels (classes), shapes of the image, properties."""
