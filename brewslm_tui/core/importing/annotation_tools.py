"""Exports of annotation tools: Prodigy (JSONL), Label Studio (JSON) and Argilla (JSON / JSONL).

Each is reduced to the fields an import maps (the task's text fields plus `label`), and only
accepted annotations become rows: Prodigy `"answer": "accept"`, a Label Studio annotation that
was not cancelled, an Argilla record with a submitted (v2) or validated (v1) response. The
rest are records with `skip` set, which the import counts among its rejects.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from brewslm_tui.core.importing.records import Record


def looks_like(obj: dict | None) -> str | None:
    """Which tool wrote this first example: "prodigy", "label-studio", "argilla", or None."""
    if not isinstance(obj, dict):
        return None
    if "answer" in obj and (
        "_input_hash" in obj or "_task_hash" in obj or obj["answer"] in ("accept", "reject", "ignore")
    ):
        return "prodigy"
    if isinstance(obj.get("data"), dict) and ("annotations" in obj or "completions" in obj):
        return "label-studio"
    if isinstance(obj.get("fields"), dict) and "responses" in obj:
        return "argilla"
    if ("inputs" in obj or "text" in obj) and "annotation" in obj and "status" in obj:
        return "argilla"
    return None


def converted(records: Iterator[Record], tool: str) -> Iterator[Record]:
    """The records of a tool's export reduced to fields and accepted or not (unreadable ones pass)."""
    convert = CONVERTERS[tool]
    for record in records:
        yield record if record.fields is None else convert(record.where, record.fields)


def _prodigy(where: str, obj: dict) -> Record:
    """Prodigy tasks: `text` and the label (`label`, or the one option in `accept` for a choice task)."""
    answer = obj.get("answer")
    fields = {k: v for k, v in obj.items() if k not in ("answer", "accept", "_input_hash", "_task_hash")}
    if answer != "accept":
        return Record(where, fields=fields, skip=f"Prodigy answer {answer!r}, not 'accept'")
    accepted = obj.get("accept")
    if isinstance(accepted, list) and accepted:
        if len(accepted) > 1:
            return Record(where, fields=fields, skip=f"{len(accepted)} options accepted, not one")
        fields["label"] = accepted[0]  # the option's id: what Prodigy's recipes store as the label
    return Record(where, fields=fields)


def _label_studio(where: str, task: dict) -> Record:
    """Label Studio tasks: the task's `data` plus, from the last annotation not cancelled, `label`
    (the first choice or text) and each control's value by its `from_name`."""
    data = task.get("data")
    fields: dict[str, Any] = dict(data) if isinstance(data, dict) else {}
    annotations = task.get("annotations") or task.get("completions") or []
    usable = [
        a
        for a in annotations
        if isinstance(a, dict)
        and not a.get("was_cancelled")
        and isinstance(a.get("result"), list)
        and a["result"]
    ]
    if not usable:
        return Record(where, fields=fields, skip="no annotation (or only cancelled ones)")
    label = None
    for result in usable[-1]["result"]:
        value = result.get("value", {}) if isinstance(result, dict) else {}
        picked = value.get("choices") or value.get("text") or value.get("labels")
        if isinstance(picked, list) and picked:
            picked = picked[0] if len(picked) == 1 else picked
        if picked is None:
            continue
        if result.get("from_name"):
            fields[str(result["from_name"])] = picked
        if label is None:
            label = picked
    if label is None:
        return Record(where, fields=fields, skip="the annotation holds no choice or text")
    return _labelled(where, fields, label, task)


def _argilla(where: str, obj: dict) -> Record:
    """Argilla records: v2 (`fields` + `responses` by question) or v1 (`text`/`inputs` + `annotation`)."""
    if isinstance(obj.get("fields"), dict):
        fields: dict[str, Any] = dict(obj["fields"])
        label = None
        responses = obj.get("responses")
        for question, answers in (responses if isinstance(responses, dict) else {}).items():
            submitted = [
                a
                for a in answers or []
                if isinstance(a, dict) and a.get("status", "submitted") == "submitted"
            ]
            if submitted:
                fields[str(question)] = submitted[0].get("value")
                if label is None:
                    label = submitted[0].get("value")
        if label is None:
            return Record(where, fields=fields, skip="no submitted response")
        return _labelled(where, fields, label, obj)
    fields = dict(obj["inputs"]) if isinstance(obj.get("inputs"), dict) else {}
    if "text" in obj:
        fields["text"] = obj["text"]
    status, annotation = obj.get("status"), obj.get("annotation")
    if status != "Validated" or annotation in (None, [], ""):
        return Record(where, fields=fields, skip=f"status {status!r}, not a validated annotation")
    if isinstance(annotation, list) and len(annotation) == 1:
        annotation = annotation[0]
    return _labelled(where, fields, annotation, obj)


def _labelled(where: str, fields: dict[str, Any], label: Any, source: dict) -> Record:
    """An accepted record: its fields, the `label`, and the tool's id of it (kept under meta)."""
    fields["label"] = label
    if "id" in source:
        fields.setdefault("id", source["id"])
    return Record(where, fields=fields)


CONVERTERS = {"prodigy": _prodigy, "label-studio": _label_studio, "argilla": _argilla}
