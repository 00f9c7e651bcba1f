"""The row store: `synthetic.jsonl`, the decision journal, the dropped rows, and their columns.

`store.Store` is the entry point and holds the other parts: the columns (`columns`, cached by
`column_cache`), the mapped file (`file_rows`) and the ids read off it (`row_ids`), the journal's
changes on top (`applying`, `change_log`), compaction (`compaction`, `splice`, over `commit`),
the dropped rows (`dropped`). `row_json` says how a line is read; `appending` is the jobs' edge;
`views`, `selectors` and `row_filter` choose rows; `jsonl`, `journal`, `locking` are the files.
"""
