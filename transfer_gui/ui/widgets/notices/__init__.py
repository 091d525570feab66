"""What the window tells the user: banners, dialogs, the export dialog, the quick start,
progress, the probe advice."""
