"""The Textual face of the core: app, screens, widgets."""
