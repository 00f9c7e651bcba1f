"""Review: the Queue, Rejected and Approved panes, the row list, and their dialogs."""
