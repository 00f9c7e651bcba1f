"""The domain engine: project, rows, store and journal, playbooks, jobs. No textual, no rich."""
