"""The row store: `synthetic.jsonl`, the decision journal, the dropped rows, and their columns.

`store.Store` is the entry point; the other modules are its parts (files on disk, the journal,
locks, the column cache, compaction's multi-file commit, the dropped rows, views and selectors).
"""
