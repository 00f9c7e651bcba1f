"""Child process for the crash tests: makes decisions forever, announcing each one.

Protocol on stdout (one line each, flushed): `READY` once the store is open, then `BEGIN <json>`
before a step and `ACK` once the store call has returned (the decision is acknowledged). The parent SIGKILLs this process at random.
"""

import random
import sys

import orjson

from brewslm_tui.core.project import load_project
from brewslm_tui.core.store.store import Store, append_rows

root, seed = sys.argv[1], int(sys.argv[2])
rng = random.Random(seed)
project = load_project(root)
store = Store.open(project, lock_timeout=10)
counter = 0


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


say("READY")  # started and opened: from here on the parent's kill moment is counted

while True:
    ids = [store.id_of(i) for i in range(len(store)) if store.status[i] != 3]
    roll = rng.random()
    if roll < 0.12 or len(ids) < 5:
        counter += 1
        rows = [
            {
                "id": f"s{seed}-{counter}-{k}",
                "prompt": f"seed {seed} row {counter}.{k}",
                "completion": "positive",
                "review_status": "pending",
                "run_id": f"run-{seed}",
            }
            for k in range(rng.randint(1, 30))
        ]
        say("BEGIN " + orjson.dumps({"op": "append", "ids": [r["id"] for r in rows]}).decode())
        append_rows(project, rows)
        store.refresh()
        say("ACK")
        continue
    picked = rng.sample(ids, min(len(ids), rng.randint(1, 40)))
    slots = [store.index_of(i) for i in picked]
    if roll < 0.35:
        say("BEGIN " + orjson.dumps({"op": "approve", "ids": picked}).decode())
        store.approve(slots)
    elif roll < 0.6:
        reason = rng.choice(["label_ambiguous", "minor_typo"])
        say("BEGIN " + orjson.dumps({"op": "reject", "ids": picked, "reason": reason}).decode())
        store.reject(slots, reason)
    elif roll < 0.7:
        say("BEGIN " + orjson.dumps({"op": "pending", "ids": picked}).decode())
        store.set_pending(slots)
    elif roll < 0.85:
        say("BEGIN " + orjson.dumps({"op": "drop", "ids": picked}).decode())
        store.drop(slots)
    elif roll < 0.9:
        say(
            "BEGIN "
            + orjson.dumps({"op": "edit", "ids": picked[:1], "completion": f"neg {counter}"}).decode()
        )
        store.edit(slots[0], completion=f"neg {counter}")
        counter += 1
    else:
        say("BEGIN " + orjson.dumps({"op": "compact", "ids": []}).decode())
        store.compact()
    say("ACK")
