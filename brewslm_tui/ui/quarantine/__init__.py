"""The quarantine in the TUI: the lines that could not be loaded, put back fixed or discarded."""
