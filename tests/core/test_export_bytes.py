"""The export writes exactly the same bytes as before its fast path (a single streamed pass, no
row copy per check): digests of every file (and of the manifest, less its clock and app
version) of exports of a varied project, taken from the export as it was (commit b96999a)."""

from __future__ import annotations

import hashlib
import io
import random
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest

from brewslm_tui.core.export import ExportOptions, InvalidRowsError, export
from brewslm_tui.core.project import load_project
from brewslm_tui.core.store.store import Store

SAMPLES = Path(__file__).resolve().parents[2] / "sample_projects"

# (case, sha256 of each file in order, sha256 of the manifest less created_at and app)
EXPECTED: dict[str, tuple[list[str], str]] = {
    "product-qa/allow-invalid": (
        ["2a5b01cfaecdbab9044da876407e0aede014deab0f75d5cbe16f340b905bba8e"],
        "6879d8834443b4936f3455b83941152cd7d5c18a9ec2edba3957783c2c2fffda",
    ),
    "product-qa/default": (
        ["ac13bb3734510c5fd2485e2def8e7f64870eac642e9bacaaf7ef90118abcf779"],
        "0efccd2c5a0fe34aeb476b57fe4749a7e43ee28dbbbb272935c51cb955cc7bf4",
    ),
    "product-qa/messages split minimal": (
        [
            "bfcd79c8b902db05234d66e6fadccb5d18a4285819c2ce316eef853e9e4b0614",
            "1855eb56240940535d70574c632b1acb9a9446701fbb8dcd670a1dbe3ca6580e",
        ],
        "c995c08f5cf170d6f99c65e358c1be4632acc3371280106a6f1bb0138aad3f14",
    ),
    "product-qa/messages+system": (
        ["7e9fb5ebae1fc33dea89c9feca2182505e5d53c2b37fec1cc2803d99438c36bb"],
        "f7dd79de236ac1d8f23be8d1182dfc7e3734ad666d88c1d37a0735222e0d68dc",
    ),
    "product-qa/minimal": (
        ["d48728e3808afaa60e4327bda3342c2073586abbbb921ce99029bc9296b6478e"],
        "5fe32fa4c20e0abf3bc10a47be62d100c59dc4ecabcafd80777216a4d29d18e5",
    ),
    "product-qa/raw": (
        ["1589308aaa8a117110f71885190111488eb7b7c77e7e9de9a0b28fb000810944"],
        "2acfc623da13f6acbacb6418f4dcbb61bd7901e20384afa43e74066f374f7ccc",
    ),
    "product-qa/refused": (
        ["invalid"],
        "29fed648c46ea351aa312ee0167c5cba291de7fa1d8c0e3f4d95fad0cf2387d5",
    ),
    "product-qa/split": (
        [
            "b5e585835073e9510950429738ef66aa8c78942c3c74edf2768d8869296d0add",
            "ac6e419183b2adfdffc948615f11f42bf7c5adb2819161db0abfd61d9f651c5e",
            "e8ca3d79f07768233dff9c014e8961b56fe6a16f801ea1db05505a16fc63bb89",
        ],
        "ea4fcdbc3dd3cd13bff5368aab2b8cd2da82790fc37f4c771c093d2c9b474522",
    ),
    "sentiment/allow-invalid": (
        ["8b5a96a72706c08c3201e1707f6153f61b5a430ef6e655eb461855a93e83ea4d"],
        "371c444fbedf80d3a6563991dfa8f0edb19b1b49512311e415fdf562bd31a253",
    ),
    "sentiment/default": (
        ["9f4e2d3f4a8d65b55988ee7c5939a0412dcb78c2c19294d2fb8b3c30d32adab2"],
        "cb6267bd65a640162c097df850b96abdfc16cfcbb87c8b818fe9b231943ed172",
    ),
    "sentiment/messages split minimal": (
        [
            "d4b46a8f6b0dff9438d014045515171e6a6f1ec4c9fb66d731c34f7a777cb58d",
            "d689bc84bbe75d721bf4cc9010cd7f9bfcd167531c959edcf876bb448797dfc6",
        ],
        "ccbf0033e5be1c8f4537390e5dc6c5b4bd093ac1951107156a0fbe28cca4ea1e",
    ),
    "sentiment/messages+system": (
        ["02419ec2d39c1bb28b6e17f6962d229884efe34ab014b9c24b6de4bbfdce4862"],
        "f8d7108f7819ebd908a43ff04a4c3e730644e393e6ab8df81076c1a7830c3a78",
    ),
    "sentiment/minimal": (
        ["b6ef7d5fb114c41ba59f7b6769fa5389a561f857dea2f3bf5302f3f6981659cc"],
        "86b2a0c990fd73205876809517c202fdf047d7502c4b6feb2ac7de42433e0e85",
    ),
    "sentiment/raw": (
        ["7e8354bf2ab4bc30a1ccfe967cd234308bcdda63d97b88564585cc3ac06ae089"],
        "2b78d17f0fefddd6df195ad657e547e3a5c363bc6733d635c3e37763e8cf3f8e",
    ),
    "sentiment/refused": (
        ["invalid"],
        "35e535be2c8533f288c4ca6ec8b1b90438b004f3a45b5dbc1ed2dc6bda977313",
    ),
    "sentiment/split": (
        [
            "ef4785253d5a77d799f71ec5d3badebd61f38540f34bcfc71993d78bf3dceedd",
            "0f757e5d25dd648bce260d5c99a35d8eb633cec88cd1c6f684163d4e318ce23e",
            "da541ee3172d647ed1990faa7b80e2040be779e94b03a4f3c4f1d27e0e050a0c",
        ],
        "9e7cacd067512460f11e2c2b8ea22676e015ef2c2e820bbd5f163ce715d2f5e7",
    ),
    "support-extraction/allow-invalid": (
        ["4c312af16a4a70229ea37a2b1ef8cff98f5e031c2691818780e4016475b1485a"],
        "272cb9fc9690423ea5e4ce73939719ebeb14f1198c6c8b91f344bdf164a54f9f",
    ),
    "support-extraction/default": (
        ["fb90aa34b862a835a5282d6a4184fdf227b98b6db782ef224892d06f83b75149"],
        "e06e46a55e6b378cff80cb5c37e4ed3ebd2ca42784a77627747f631371d46290",
    ),
    "support-extraction/messages split minimal": (
        [
            "81fa0db757050d6d9fe4144776dbf2cdf39573d1e38530c6e14360b587a02120",
            "ccfeff59793490a066664032ecbff26ce96caf080159b0729d6ca4bdffe904cf",
        ],
        "1fc711a2b22b32aec42e5025860a26c7c370da91ed42be74ef8684fbb5b4a3fb",
    ),
    "support-extraction/messages+system": (
        ["0a5c65b120762e1708db889996a4faffa42d86724f0bd56674cc13d2e4690484"],
        "8fdca12ec4de61dc292280b957dd2992828da4607f3403ffd847afb7b6c79668",
    ),
    "support-extraction/minimal": (
        ["82ec0942dda18d190a494559f1cdd74239f48cd6364e7035fab4b7fa2fcf78d2"],
        "543fbbfcda693ba4338df155caa1460000603e22a6a110c48f8fb02c768a0e8b",
    ),
    "support-extraction/raw": (
        ["3db9d6f2219dd75bd35000a57f73670b0e51dce11135b706de2e7b834717117a"],
        "6b3d3d10a79738b1736043546bf3f40884164bf033cda97e6da2c331acb4c136",
    ),
    "support-extraction/refused": (
        ["invalid"],
        "1a681155f1dbdbc050a88c40a87ccd41aa93c8329f7bd0da9f300849ff4cd730",
    ),
    "support-extraction/split": (
        [
            "1bdc522f423e21b2d14357c17ded48ae2224a739fd5076d4cce299105b05a3b5",
            "58764324ca2870cfe722e3cb64450328ca83b8a74265f492292021822cc8ef25",
            "dbe4f2e4362cc55cf16f9b42dbad02bd1e33a3c6f5d245e4281fcea39b278701",
        ],
        "7dee7a681da5a4d42e9bf707a45638d2e34b27da228bb6a1f44940b1ffbbd7c4",
    ),
}

CASES: dict[str, dict[str, Any]] = {
    "default": {},
    "messages+system": {"format": "messages", "system": "You are terse. «ünïcode»"},
    "raw": {"format": "raw"},
    "minimal": {"minimal": True},
    "split": {"split": {"train": 0.7, "validation": 0.2, "test": 0.1}, "seed": 5},
    "messages split minimal": {
        "format": "messages",
        "minimal": True,
        "split": {"a": 0.5, "b": 0.5},
        "seed": 1,
    },
    "allow-invalid": {"allow_invalid": True},
    "refused": {},
}
WITH_INVALID = ("allow-invalid", "refused")  # cases on a project with rows that no longer fit


def varied(root: Path, sample: str, seed: int, invalid: bool = False) -> Path:
    """A copy of a sample with approved, edited, noted, rejected and odd rows (and, if
    `invalid`, approved rows that do not fit the project)."""
    shutil.copytree(SAMPLES / sample, root, ignore=shutil.ignore_patterns(".brewslm"))
    project = load_project(root)
    rng = random.Random(seed)
    labels = list(project.labels) or ["x"]
    extra = []
    for k in range(300):
        row: dict = {
            "id": f"v{k:04d}",
            "prompt": rng.choice(["Classify: ", "Q: ", "¿", "ＦＵＬＬ "]) + f"text {k} " + "é" * (k % 3),
            "completion": rng.choice(labels).upper()
            if project.task == "classification" and k % 5 == 0
            else rng.choice(labels),
            "source": "synth_playbook",
            "run_id": f"run-{k % 4}",
            "playbook": f"pb-{k % 3}",
            "created_at": "2026-11-30T10:00:00Z",
        }
        if k % 7 == 0:
            row["_private"] = "not exported"
        if k % 11 == 0:
            row["extra_field"] = {"nested": [1, 2, k]}
        if k % 13 == 0:
            del row["id"]  # an id assigned at load
        if project.task == "extraction":
            row["completion"] = orjson.dumps(
                {f: (None if (k + j) % 4 == 0 else f"{f}{k}") for j, f in enumerate(project.fields)}
            ).decode()
        if invalid and k % 50 == 1:
            row["completion"] = ["not a label", "{not json", ""][k % 3]
        extra.append(row)
    with open(project.synthetic_path, "ab") as f:
        for row in extra:
            f.write(orjson.dumps(row) + b"\n")
    with Store.open(project) as store:
        n = len(store)
        approve = [i for i in range(n) if i % 3 != 2]
        store.approve(approve)
        store.reject([i for i in range(n) if i % 3 == 2][:20], project.reject_reasons[0].code, note="meh")
        for i in approve[:8]:
            prompt = store.row(i)["prompt"]
            store.edit(i, prompt=prompt + " (fixed)")
    return root


def without_reviewer(data: bytes) -> bytes:
    """The export less `reviewed_by` / `reviewed_at` (added to rows after these digests were
    taken; who and when differ from run to run): every other byte must be as it was."""
    out = []
    for line in data.splitlines(keepends=True):
        row = orjson.loads(line)
        if isinstance(row, dict) and ("reviewed_by" in row or "reviewed_at" in row):
            row.pop("reviewed_by", None)
            row.pop("reviewed_at", None)
            line = orjson.dumps(row) + b"\n"
        out.append(line)
    return b"".join(out)


def digests(project, options: ExportOptions, out: Path) -> tuple[list[str], str]:
    with Store.open(project, readonly=True) as store:
        report = export(store, out, options)
    files = [hashlib.sha256(without_reviewer(f.path.read_bytes())).hexdigest() for f in report.files]
    assert report.manifest is not None
    manifest = orjson.loads(report.manifest.read_bytes())
    manifest.pop("created_at")
    manifest.pop("app")
    for f in manifest["files"]:  # the files' own bytes are compared above (less the reviewer fields)
        f.pop("sha256", None)
    return files, hashlib.sha256(orjson.dumps(manifest, option=orjson.OPT_SORT_KEYS)).hexdigest()


@pytest.mark.parametrize("sample", ["sentiment", "support-extraction", "product-qa"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_export_bytes_are_unchanged(tmp_path, sample, case):
    project = load_project(varied(tmp_path / "p", sample, seed=len(sample), invalid=case in WITH_INVALID))
    options = ExportOptions(**CASES[case])
    out = tmp_path / "out" / ("folder" if options.split else "export.jsonl")
    try:
        got = digests(project, options, out)
    except InvalidRowsError as exc:
        got = (["invalid"], hashlib.sha256("\n".join(map(str, exc.rows)).encode()).hexdigest())
    assert got == EXPECTED[f"{sample}/{case}"]


@pytest.mark.parametrize("sample", ["sentiment", "support-extraction"])
def test_streamed_export_is_the_file_export(tmp_path, sample):
    project = load_project(varied(tmp_path / "p", sample, seed=3))
    with Store.open(project, readonly=True) as store:
        stream = io.BytesIO()
        export(store, None, ExportOptions(format="messages"), stream=stream)
        export(store, tmp_path / "e.jsonl", ExportOptions(format="messages"))
    assert stream.getvalue() == (tmp_path / "e.jsonl").read_bytes() != b""


def test_the_fast_control_character_check_answers_as_the_full_one():
    """ASCII texts are checked without the regex: for every code point, alone and inside text
    with a newline, both checks agree."""
    from brewslm_tui.core.generation.validate import _has_control_chars
    from brewslm_tui.core.text import has_control_chars

    for code in range(0x110000):
        for text in (chr(code), "ab" + chr(code) + "\n"):
            assert _has_control_chars(text) == has_control_chars(text), hex(code)
