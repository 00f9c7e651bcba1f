"""Insight: the Runs and Balance views, counted off the key path."""
