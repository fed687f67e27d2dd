"""The UniFFI Python binding, as a Python program gets it: every exported function on
every fixture, and errors arriving as exceptions of the right variant.

Run by scripts/test after scripts/uniffi-bindings, with target/bindings/python on
sys.path (see conftest.py).
"""

import hashlib
import json
import os
import re
import shutil
import sqlite3
import zipfile
from pathlib import Path

import pytest

import sila_store as s

REPO = Path(__file__).resolve().parents[3]
FIXTURES = sorted(
    [p for p in (REPO / "tests" / "fixtures").iterdir() if p.is_dir()]
    + [p for p in (REPO / "tests" / "fixtures-edge").iterdir() if p.is_dir()]
)
RICH = REPO / "tests" / "fixtures" / "rich"


def listing(root: Path) -> dict:
    """sha256 of every file under root, by relative path (what sha256sum gives)."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            p = Path(dirpath) / name
            out[p.relative_to(root).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def copy_fixture(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    for dirpath, _, files in os.walk(dst):
        for name in files:
            os.chmod(Path(dirpath) / name, 0o644)
    return dst


def ops_files(root: Path):
    return sorted(p for p in (root / "space-v1" / "ops").rglob("*.jsonl"))


@pytest.mark.parametrize("fx", FIXTURES, ids=lambda p: p.name)
def test_every_fixture_round_trips_both_ways(fx, tmp_path):
    original = listing(fx)
    ws = s.Workspace.open(str(fx))
    assert ws.format() == "plain"
    # plain -> SQLite -> ZIP -> plain, through the object and the free function.
    report = ws.convert_to(str(tmp_path / "a.db"), False, None)
    assert (report.from_format, report.to_format) == ("plain", "sqlite")
    assert report.files == len(original)
    s.Workspace.open(str(tmp_path / "a.db")).convert_to(str(tmp_path / "b.zip"), False, None)
    s.convert(str(tmp_path / "b.zip"), str(tmp_path / "c"), False)
    assert listing(tmp_path / "c") == original
    # plain -> ZIP -> SQLite -> plain, through export_zip / import_zip.
    ws.export_zip(str(tmp_path / "d.zip"), False)
    s.convert(str(tmp_path / "d.zip"), str(tmp_path / "e.db"), False)
    s.Workspace.open(str(tmp_path / "e.db")).export_zip(str(tmp_path / "e.zip"), False)
    restored = s.Workspace.open(str(tmp_path / "f"))
    restored.import_zip(str(tmp_path / "e.zip"), None)
    assert listing(tmp_path / "f") == original
    for archive in ["a.db", "b.zip", "d.zip", "e.db"]:
        r = s.verify(str(tmp_path / archive))
        assert r.ok, r.errors
        assert r.files_checked == len(original)


@pytest.mark.parametrize("fx", FIXTURES, ids=lambda p: p.name)
def test_info_verify_and_operations_agree_across_formats(fx, tmp_path):
    s.convert(str(fx), str(tmp_path / "w.db"), False)
    s.convert(str(fx), str(tmp_path / "w.zip"), False)
    spaces = [s.Workspace.open(str(p)) for p in (fx, tmp_path / "w.db", tmp_path / "w.zip")]
    infos = [w.info() for w in spaces]
    assert infos[0].format == "plain" and infos[1].format == "sqlite" and infos[2].format == "zip"
    for i in infos[1:]:
        assert (i.space_id, i.space_name, i.ops, i.peers, i.days, i.files, i.total_bytes) == (
            infos[0].space_id,
            infos[0].space_name,
            infos[0].ops,
            infos[0].peers,
            infos[0].days,
            infos[0].files,
            infos[0].total_bytes,
        )
    # split("\n"), not splitlines(): U+2028 inside a value is not a line break.
    lines_on_disk = sum(p.read_bytes().count(b"\n") for p in ops_files(fx))
    assert infos[0].ops == lines_on_disk
    days = infos[0].days
    total = 0
    for tree in infos[0].trees:
        for frm, to in [(None, None), (days[0], days[0]), (days[-1], None), (None, days[0])]:
            results = [w.get_operations(tree.id, frm, to) for w in spaces]
            assert results[0] == results[1] == results[2]
            if frm is None and to is None:
                total += len(results[0])
                assert len(results[0]) == tree.ops
    assert total == lines_on_disk
    report = spaces[1].verify(None)
    assert report.ok
    codes = {w.code for w in report.warnings}
    assert ("SpaceJsonNamesAppTree" in codes) == (fx.name == "citybean-coffee-wrong-space-id")


EXPECTED_CHATS = {
    "getting-started": (1, 0),
    "getting-started-complete": (1, 4),
    "citybean-coffee": (32, 102),
    "citybean-coffee-complete": (32, 104),
    "rich": (5, 21),
    "legacy": (2, 13),
    "citybean-coffee-wrong-space-id": (32, 102),
}


@pytest.mark.parametrize("fx", FIXTURES, ids=lambda p: p.name)
def test_show_chats_messages_and_trees(fx, tmp_path):
    s.convert(str(fx), str(tmp_path / "w.zip"), False)
    for ws in (s.Workspace.open(str(fx)), s.Workspace.open(str(tmp_path / "w.zip"))):
        summary = ws.show()
        assert (len(summary.chats), summary.messages) == EXPECTED_CHATS[fx.name]
        assert summary.errors == []
        for chat in summary.chats:
            if chat.has_ops:
                msgs = ws.chat_messages(chat.tree_id)
                assert len(msgs) == chat.main_branch
                assert all(m.role for m in msgs)
                vertices = ws.tree(chat.tree_id)
                assert vertices[0].id == "0" or any(v.id == chat.tree_id for v in vertices)
    with pytest.raises(s.SilaStoreError.NotFound):
        s.Workspace.open(str(fx)).tree("ffffffffffffffffffffffffffffffff")


def test_readme_counts_of_the_fixtures():
    info = s.Workspace.open(str(RICH)).info()
    assert info.space_id == "b3ee88fc46bb4ac1bd8012feac0a7d6c"
    assert (len(info.trees), info.ops, info.peers, info.static_files, info.mutable_files) == (7, 497, 4, 7, 6)
    assert info.has_secrets


def test_put_operation_put_file_get_file(tmp_path):
    ws_path = copy_fixture(RICH, tmp_path / "ws")
    ws = s.Workspace.open(str(ws_path))
    tree = "b3ee88fc46bb4ac1bd8012feac0a7d6c"
    peer = "0123456789abcdef0123456789abcdef"
    moved = ws.put_operation(tree, peer, s.OperationInput.MOVE(900, "v900", tree), "2026-03-20")
    assert moved.line == f'[900,"v900","{tree}"]'
    assert (moved.day, moved.peer, moved.file_kind) == ("2026-03-20", peer, "m")
    ws.put_operation(tree, peer, s.OperationInput.SET(901, "v900", "name", '"Hello \\u2028 world"'), "2026-03-20")
    ws.put_operation(tree, peer, s.OperationInput.SET(902, "v900", "size", "{}"), "2026-03-20")
    ops = ws.get_operations(tree, "2026-03-20", "2026-03-20")
    assert [o.line for o in ops] == [
        f'[900,"v900","{tree}"]',
        # The value's JSON text is written as JSON.stringify writes it: U+2028 raw.
        '[901,"v900","name","Hello \u2028 world"]',
        '[902,"v900","size",{}]',
    ]
    p_file = ws_path / "space-v1/ops/b3/ee88fc46bb4ac1bd8012feac0a7d6c/2026/03/20" / f"{peer}-p.jsonl"
    assert p_file.read_bytes() == '[901,"v900","name","Hello \u2028 world"]\n[902,"v900","size",{}]\n'.encode()
    # An op already stored (same peer and counter, any day) is not written again.
    assert ws.put_operation(tree, peer, s.OperationInput.MOVE(900, "v900", tree), "2026-03-21") is None
    # Today (UTC) is the default day.
    today = ws.put_operation(tree, peer, s.OperationInput.MOVE(903, "v903", None), None)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", today.day)

    data = os.urandom(300_000)
    h = ws.put_file(data)
    assert h == hashlib.sha256(data).hexdigest()
    assert ws.put_file(data) == h  # idempotent
    assert (ws_path / "space-v1/files/static/sha256" / h[:2] / h[2:]).read_bytes() == data
    assert ws.get_file(h) == data
    # The workspace still verifies, and still converts both ways.
    assert ws.verify(None).ok
    ws.convert_to(str(tmp_path / "ws.db"), False, None)
    db = s.Workspace.open(str(tmp_path / "ws.db"))
    assert db.get_file(h) == data
    assert db.get_operations(tree, "2026-03-20", "2026-03-20") == ops
    # Mutable files by UUID, with or without dashes.
    some = next((ws_path / "space-v1/files/var/uuid").rglob("*"))
    while some.is_dir():
        some = next(some.iterdir())
    uuid = some.parent.name + some.name
    dashed = f"{uuid[:8]}-{uuid[8:12]}-{uuid[12:16]}-{uuid[16:20]}-{uuid[20:]}"
    assert db.get_file(dashed) == some.read_bytes() == ws.get_file(uuid)


def test_progress_listener(tmp_path):
    class Listener(s.ProgressListener):
        def __init__(self):
            self.events = []

        def on_progress(self, phase, done, total):
            self.events.append((phase, done, total))

    listener = Listener()
    s.Workspace.open(str(RICH)).convert_to(str(tmp_path / "w.zip"), False, listener)
    phases = {e[0] for e in listener.events}
    assert phases == {"converting", "verifying"}
    assert all(0 <= d <= t for _, d, t in listener.events)
    assert listener.events[-1][1] == listener.events[-1][2]


def _zip_with(tmp_path, names_and_bytes, manifest_files, version=1):
    z = tmp_path / "evil.zip"
    with zipfile.ZipFile(z, "w") as w:
        for name, data in names_and_bytes:
            w.writestr(name, data)
        w.writestr(
            "sila-store-manifest.json",
            json.dumps({"format": "sila-store-zip", "version": version, "files": manifest_files}),
        )
    return z


def test_errors_arrive_as_the_right_exception(tmp_path):
    rich = s.Workspace.open(str(RICH))
    # Existing destination without force.
    rich.convert_to(str(tmp_path / "w.db"), False, None)
    with pytest.raises(s.SilaStoreError.AlreadyExists):
        rich.convert_to(str(tmp_path / "w.db"), False, None)
    # Unsafe id and malformed date.
    # One exception class per stable code, each carrying it.
    with pytest.raises(s.SilaStoreError.InvalidId) as e:
        rich.get_operations("../../etc", None, None)
    assert e.value.code == "InvalidId"
    with pytest.raises(s.SilaStoreError.InvalidArgument):
        rich.get_operations("b3ee88fc46bb4ac1bd8012feac0a7d6c", "2026-3-1", None)
    # A future format version.
    db = tmp_path / "future.db"
    shutil.copy(tmp_path / "w.db", db)
    c = sqlite3.connect(db)
    c.execute("PRAGMA user_version = 9")
    c.commit()
    c.close()
    with pytest.raises(s.SilaStoreError.UnsupportedVersion):
        s.Workspace.open(str(db)).info()
    # A database that is not ours.
    other = tmp_path / "other.sqlite"
    c = sqlite3.connect(other)
    c.execute("CREATE TABLE t(x)")
    c.commit()
    c.close()
    with pytest.raises(s.SilaStoreError.NotAnArchive) as e:
        s.Workspace.open(str(other)).info()
    assert e.value.code == "NotAnArchive"
    # ZIP slip.
    z = _zip_with(tmp_path, [("../x", b"x")], [{"path": "../x", "size": 1, "sha256": hashlib.sha256(b"x").hexdigest()}])
    with pytest.raises(s.SilaStoreError.UnsafePath):
        s.convert(str(z), str(tmp_path / "out"), False)
    assert not (tmp_path / "out").exists() and not (tmp_path.parent / "x").exists()
    # ZIP entry larger than its manifest says.
    z = _zip_with(tmp_path, [("sila.md", b"x" * 100)], [{"path": "sila.md", "size": 3, "sha256": "0" * 64}])
    with pytest.raises(s.SilaStoreError.SizeMismatch) as e:
        s.convert(str(z), str(tmp_path / "out"), False)
    assert e.value.code == "SizeMismatch"
    # A CAS file whose bytes do not match its name.
    ws_path = copy_fixture(RICH, tmp_path / "tampered")
    blob = next(p for p in (ws_path / "space-v1/files/static/sha256").rglob("*") if p.is_file())
    blob.write_bytes(blob.read_bytes() + b"!")
    with pytest.raises(s.SilaStoreError.HashMismatch):
        s.convert(str(ws_path), str(tmp_path / "t.zip"), False)
    report = s.verify(str(ws_path))
    assert not report.ok and report.errors[0].code == "HashMismatch"
    assert not (tmp_path / "t.zip").exists()
    # Missing things.
    with pytest.raises(s.SilaStoreError.NotFound):
        s.Workspace.open(str(tmp_path / "nothing-here")).info()
    with pytest.raises(s.SilaStoreError.NotFound):
        rich.get_file("0" * 64)
    # Writing to an archive, and op lines Sila could not read back.
    with pytest.raises(s.SilaStoreError.InvalidArgument):
        s.Workspace.open(str(tmp_path / "w.db")).put_file(b"x")
    ws = s.Workspace.open(str(copy_fixture(RICH, tmp_path / "w2")))
    with pytest.raises(s.SilaStoreError.InvalidArgument):
        ws.put_operation("b3ee88fc46bb4ac1bd8012feac0a7d6c", "p1", s.OperationInput.SET(1, "v", 'bad"key', "1"), None)
    with pytest.raises(s.SilaStoreError.InvalidArgument):
        ws.put_operation("b3ee88fc46bb4ac1bd8012feac0a7d6c", "p1", s.OperationInput.SET(1, "v", "k", "{not json"), None)
    with pytest.raises(s.SilaStoreError.InvalidId):
        ws.put_operation("b3ee88fc46bb4ac1bd8012feac0a7d6c", "../p", s.OperationInput.MOVE(1, "v", None), None)
    # An empty folder is not a workspace.
    (tmp_path / "empty").mkdir()
    with pytest.raises(s.SilaStoreError.NotAWorkspace) as e:
        s.convert(str(tmp_path / "empty"), str(tmp_path / "empty.db"), False)
    assert e.value.code == "NotAWorkspace"


def test_readme_python_example(tmp_path, monkeypatch):
    """The Python example in the README runs as written."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert blocks, "README has a python example"
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("SILA_STORE_OUT", str(tmp_path))
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})


def _tricky_value(rng, depth=3):
    """JSON text of a random value, spelled as some client might: random doubles,
    integer-like keys, null, nesting, U+2028, lone surrogates, odd spacing."""
    import struct
    k = rng.randrange(7 if depth else 5)
    if k == 0:
        return rng.choice(["null", "true", "false"])
    if k in (1, 2):
        while True:
            x = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
            if x == x and abs(x) != float("inf"):
                break
        return rng.choice([repr(x), f"{x:e}", str(rng.getrandbits(64)), "1e-6", "-0", "1E21", "0.000001"])
    if k == 3:
        return '"' + "".join(rng.choice(["a", "\\ud800", "\\uDFFF", "\u2028", "\\u2028", "\\n", "é😀", "\\u001f", '\\"']) for _ in range(rng.randrange(5))) + '"'
    if k == 4:
        return str(rng.randrange(-10**6, 10**6))
    if k == 5:
        return "[ " + " , ".join(_tricky_value(rng, depth - 1) for _ in range(rng.randrange(4))) + " ]"
    keys = [rng.choice(['"b"', '"a"', '"10"', '"2"', '"01"', '"4294967295"', '"\\u0031"', '"z"']) for _ in range(rng.randrange(5))]
    return "{" + ",".join(f"{key}: {_tricky_value(rng, depth - 1)}" for key in keys) + "}"


def test_put_operation_stores_values_as_javascript_writes_them(tmp_path):
    """300 random values through UniFFI put_operation: every stored line is the line
    Node's JSON.stringify gives for the value."""
    import json
    import random
    import shutil
    import subprocess
    if shutil.which("node") is None:
        assert not os.environ.get("SILA_STORE_REQUIRE_ORACLE"), "node is required"
        pytest.skip("node missing")
    rng = random.Random(300)
    texts = [_tricky_value(rng) for _ in range(300)]
    script = "const t=JSON.parse(require('fs').readFileSync(0,'utf8'));process.stdout.write(JSON.stringify(t.map(x=>JSON.stringify(JSON.parse(x)))))"
    node = json.loads(subprocess.run(["node", "-e", script], input=json.dumps(texts), capture_output=True, text=True, check=True).stdout)
    ws_path = copy_fixture(RICH, tmp_path / "ws")
    ws = s.Workspace.open(str(ws_path))
    tree = "b3ee88fc46bb4ac1bd8012feac0a7d6c"
    peer = "fedcba9876543210fedcba9876543210"
    for i, t in enumerate(texts):
        ws.put_operation(tree, peer, s.OperationInput.SET(500_000 + i, "v", "k", t), "2026-03-22")
    lines = [o.line for o in ws.get_operations(tree, "2026-03-22", "2026-03-22")]
    want = [f'[{500_000 + i},"v","k",{v}]' for i, v in enumerate(node)]
    assert sum(a != b for a, b in zip(lines, want)) == 0
    assert lines == want


def test_space_store_tiers_and_sync(tmp_path):
    """SpaceStore: the server API (tiers, sync) from Python, on memory://. Values sent
    through sync are stored as the lines JSON.stringify gives."""
    import random
    import subprocess
    store = s.SpaceStore.open("memory://py")
    ws_path = copy_fixture(RICH, tmp_path / "ws")
    space = "b3ee88fc46bb4ac1bd8012feac0a7d6c"
    assert store.push(str(ws_path)).transferred == 40
    assert store.format(space) == "plain"
    before = [o.line for o in store.get_operations(space, space, None, None)]
    rng = random.Random(7)
    texts = [_tricky_value(rng) for _ in range(50)]
    peer = "fedcba9876543210fedcba9876543211"
    ops = "[" + ",".join(
        f'{{"id":{{"counter":{800_000 + i},"peerId":"{peer}"}},"targetId":"v","key":"k","value":{t}}}' for i, t in enumerate(texts)
    ) + "]"
    reply = json.loads(store.sync(space, space, ops, None))
    assert len(reply) == len(before)
    mine = [o.line for o in store.get_operations(space, space, None, None) if o.peer == peer]
    if shutil.which("node"):
        script = "const t=JSON.parse(require('fs').readFileSync(0,'utf8'));process.stdout.write(JSON.stringify(t.map(x=>JSON.stringify(JSON.parse(x)))))"
        node = json.loads(subprocess.run(["node", "-e", script], input=json.dumps(texts), capture_output=True, text=True, check=True).stdout)
        assert mine == [f'[{800_000 + i},"v","k",{v}]' for i, v in enumerate(node)]
    # Archive and back: the same ops, files by hash.
    store.archive(space)
    assert store.format(space) == "sqlite"
    assert [o.line for o in store.get_operations(space, space, None, None) if o.peer == peer] == mine
    h = store.put_file(space, b"hello")
    assert store.get_file(space, h) == b"hello"
    assert store.format(space) == "plain"  # writing a file unarchived it
    with pytest.raises(s.SilaStoreError.InvalidArgument):
        store.sync(space, space, "[{not json", None)


def test_sync_tree_on_a_folder(tmp_path):
    """syncWorkspace through UniFFI on a folder: the client's ops are stored once as
    Sila's lines, the reply holds what the client lacks, values as stored text."""
    import json
    ws_path = copy_fixture(RICH, tmp_path / "ws")
    ws = s.Workspace.open(str(ws_path))
    tree = "b3ee88fc46bb4ac1bd8012feac0a7d6c"
    peer = "fedcba9876543210fedcba9876543210"
    before = len(ws.get_operations(tree, None, None))
    mine = [{"id": {"counter": 1, "peerId": peer}, "targetId": "v1", "key": "n", "value": 1e21, "transient": False}]
    reply = json.loads(ws.sync_tree(tree, json.dumps(mine), None))
    assert len(reply) == before
    assert not any(o["id"]["peerId"] == peer for o in reply)
    # Sent again with a state vector covering everything of its own: stored once.
    reply = json.loads(ws.sync_tree(tree, json.dumps(mine), json.dumps({peer: [[1, 1]]})))
    assert len(reply) == before
    lines = [o.line for o in ws.get_operations(tree, None, None) if o.peer == peer]
    assert lines == ['[1,"v1","n",1e+21]']
    with pytest.raises(s.SilaStoreError.InvalidArgument):
        ws.sync_tree(tree, "not json", None)


def _files_of(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_archive_a_folder_in_place(tmp_path):
    """A folder archived in place through the core's engine: one SQLite file, every
    read still works, the first write unarchives, and unarchive gives back every
    file byte for byte."""
    ws_path = copy_fixture(RICH, tmp_path / "ws")
    before = _files_of(ws_path)
    ws = s.Workspace.open(str(ws_path))
    tree = "b3ee88fc46bb4ac1bd8012feac0a7d6c"
    ops = ws.get_operations(tree, None, None)
    summary = ws.show()
    blob = next(p for p in (ws_path / "space-v1/files/static/sha256").rglob("*") if p.is_file())
    h = blob.parent.name + blob.name
    report = ws.archive(None)
    assert (report.action, report.files) == ("archive", len(before))
    assert ws.format() == "sqlite"
    assert list(_files_of(ws_path)) == ["sila-store-archive.sqlite"]
    assert ws.archive(None).action == "already archived"
    # Reads come from the archive.
    assert ws.get_operations(tree, None, None) == ops
    assert ws.get_file(h) == before[str(blob.relative_to(ws_path))]
    assert ws.show() == summary
    assert ws.info().space_id == tree
    assert ws.verify(None).ok
    ws.convert_to(str(tmp_path / "copy.zip"), False, None)
    assert s.Workspace.open(str(tmp_path / "copy.zip")).get_operations(tree, None, None) == ops
    # Back to plain files, byte for byte.
    assert ws.unarchive(None).files == len(before)
    assert ws.format() == "plain"
    assert _files_of(ws_path) == before
    # A write to an archived folder unarchives it first.
    ws.archive(None)
    peer = "0123456789abcdef0123456789abcdef"
    ws.put_operation(tree, peer, s.OperationInput.MOVE(990, "v990", tree), "2026-03-20")
    assert ws.format() == "plain"
    assert len(ws.get_operations(tree, None, None)) == len(ops) + 1
    with pytest.raises(s.SilaStoreError.NotFound):
        s.Workspace.open(str(tmp_path / "nothing")).archive(None)
