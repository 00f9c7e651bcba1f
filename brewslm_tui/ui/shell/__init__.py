"""The shell: the app, its header, key bar, help, command palette and layout helpers."""
