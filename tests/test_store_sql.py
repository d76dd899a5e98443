"""The SQL label store (SQLite, and a real PostgreSQL server the tests start): leases, concurrency, kills,
moving a session from JSONL, credentials, and a learner saved with a database store."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from alnb.store import LabelStore
from alnb.store.sql import SqlBackend, resolve_saved_url

NAMES = ["cat", "dog", "bird"]
WORKER = Path(__file__).with_name("store_worker.py")


def _sqlite(tmp_path: Path, name: str = "labels.db") -> str:
    return f"sqlite:///{tmp_path / name}"


# ---------------------------------------------------------------------------------------------- SQLite basics
def test_sqlite_store_replays_like_the_file_store_in_wal_mode(tmp_path: Path) -> None:
    url = _sqlite(tmp_path / "sub")  # missing folders are created, like for a JSONL file
    store = LabelStore(url, NAMES, dataset_fingerprint="fp")
    store.label([3, 1], [2, 0], round=0, annotator="alice")
    store.label(4, 1, annotator="model", pseudo=True)
    store.skip(3, round=1)
    store.undo(round=1)
    assert store.path == tmp_path / "sub" / "labels.db" and store.url == url
    reopened = LabelStore(url, NAMES, session=store.session)
    assert reopened.state() == store.state() and reopened.dataset_fingerprint == "fp"
    assert reopened.pseudo_labels == {4: 1} and reopened.undo_target() == store.undo_target()
    with sqlite3.connect(tmp_path / "sub" / "labels.db") as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("SELECT count(*) FROM alnb_actions").fetchone()[0] == 5
    with pytest.raises(ValueError, match="was written for class_names"):
        LabelStore(url, ["cat", "bird", "dog"])
    with pytest.raises(ValueError, match="another dataset"):
        LabelStore(url, NAMES, dataset_fingerprint="other")
    store.close()
    reopened.close()


def test_bad_urls_are_refused_naming_them() -> None:
    with pytest.raises(ValueError, match="names no SQLite file"):
        SqlBackend("sqlite://")
    with pytest.raises(ValueError, match="names no SQLite file"):
        SqlBackend("sqlite:///:memory:")
    with pytest.raises(ValueError, match="prefix must be an identifier"):
        SqlBackend("sqlite:///x.db", prefix="a-b")
    with pytest.raises(ValueError, match="url must be a string"):
        SqlBackend(3)  # type: ignore[arg-type]


def test_deleted_sqlite_file_is_reported_not_recreated(tmp_path: Path) -> None:
    url = _sqlite(tmp_path)
    store = LabelStore(url, NAMES)
    store.label([1, 2], [0, 0])
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"labels.db{suffix}").unlink(missing_ok=True)
    with pytest.raises(RuntimeError, match=r"was deleted.*2 labels\) are still in memory"):
        store.label(3, 1)
    assert not (tmp_path / "labels.db").exists()


# ---------------------------------------------------------------------------------------------- leases
def test_leases_hand_out_disjoint_batches_expire_and_release(tmp_path: Path) -> None:
    url = _sqlite(tmp_path)
    alice, bob = LabelStore(url, NAMES), LabelStore(url, NAMES)
    alice.label(0, 0)  # labeled items are never leased
    assert alice.lease(range(10), 3, annotator="alice") == [1, 2, 3]
    assert bob.lease(range(10), 3, annotator="bob") == [4, 5, 6]
    assert alice.lease([6, 5, 3, 2, 1, 9], 4, annotator="alice") == [3, 2, 1, 9]  # own leases renew
    held = bob.leases()
    assert {i: lease.annotator for i, lease in held.items()} == {
        1: "alice",
        2: "alice",
        3: "alice",
        4: "bob",
        5: "bob",
        6: "bob",
        9: "alice",
    }
    assert held[4].session == bob.session and held[4].expires > time.time()
    alice.label(1, 2, annotator="alice")  # labeling releases the lease
    alice.skip(2, annotator="alice")
    assert 1 not in bob.leases() and 2 not in bob.leases()
    alice.release([3])
    assert bob.lease([3], 1, annotator="bob") == [3]
    alice.release()
    assert sorted(bob.leases()) == [3, 4, 5, 6]
    short = bob.lease([7], 1, annotator="bob", ttl=0.05)
    time.sleep(0.1)  # bob went away: the lease expired
    assert short == [7] and alice.lease([7, 8], 2, annotator="alice") == [7, 8]
    with pytest.raises(ValueError, match="ttl must be a positive number of seconds"):
        alice.lease([1], 1, ttl=0)
    with pytest.raises(ValueError, match="k must be a non-negative integer"):
        alice.lease([1], -1)
    with pytest.raises(ValueError, match="candidates contains"):
        alice.lease([-1], 1)


def test_a_conflicting_index_is_not_leased(tmp_path: Path) -> None:
    store = LabelStore(_sqlite(tmp_path), NAMES, conflict_rule="ask")
    store.label(1, 0, annotator="alice")
    store.label(1, 1, annotator="bob")
    assert [c.index for c in store.conflicts()] == [1] and 1 not in store.labels
    assert store.lease([1, 2], 2, annotator="carol") == [2]


def test_the_jsonl_store_refuses_leases_saying_where_to_move(tmp_path: Path) -> None:
    store = LabelStore(tmp_path / "labels.jsonl", NAMES)
    with pytest.raises(ValueError, match=r"keeps no leases .*copy_to\('sqlite:///labels.db'\)"):
        store.lease([1, 2], 1)
    in_memory = LabelStore.in_memory(NAMES)  # one process, several views: leases work in memory too
    assert in_memory.lease([1, 2], 1, annotator="a") == [1]


# ---------------------------------------------------------------------------------------------- migration
def test_a_jsonl_session_moves_to_sqlite_in_one_call(tmp_path: Path) -> None:
    store = LabelStore(tmp_path / "labels.jsonl", NAMES, dataset_fingerprint="fp")
    store.label([1, 2, 3], [0, 1, 2], annotator="alice")
    store.label(4, 1, annotator="model", pseudo=True)
    store.unlabel(2)
    store.undo()
    url = _sqlite(tmp_path, "team.db")
    assert store.copy_to(url) == url
    team = LabelStore(url, NAMES, session=store.session)
    assert team.state() == store.state() and team.dataset_fingerprint == "fp"
    assert team.undo_target() == store.undo_target()  # the session's undo history moved too
    with pytest.raises(ValueError, match="already holds a label store"):
        store.copy_to(url)
    with pytest.raises(ValueError, match="own database"):
        team.copy_to(url)
    back = team.copy_to(tmp_path / "back.jsonl")  # and back to a file
    assert LabelStore(back, NAMES).state() == store.state()


# ---------------------------------------------------------------------------------------------- credentials
def test_urls_never_show_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = SqlBackend("postgresql://alice:s3cret@db.example.org:5432/labels")
    assert "s3cret" not in backend.describe() and "s3cret" not in repr(backend)
    assert backend.url == "postgresql+psycopg://alice:***@db.example.org:5432/labels"
    assert backend.saved_url() == "postgresql+psycopg://alice@db.example.org:5432/labels"
    from_env = SqlBackend("postgresql://alice@db.example.org/labels?password_env=ALNB_TEST_PW")
    monkeypatch.delenv("ALNB_TEST_PW", raising=False)
    with pytest.raises(ValueError, match="environment variable 'ALNB_TEST_PW', which is not set"):
        from_env.open(None, None)  # type: ignore[arg-type]  # fails before anything is read
    assert from_env.saved_url().endswith("labels?password_env=ALNB_TEST_PW")


def test_saved_sqlite_urls_are_relative_to_the_session_folder(tmp_path: Path) -> None:
    backend = SqlBackend(_sqlite(tmp_path / "session"))
    assert backend.saved_url(tmp_path / "session") == "sqlite:///labels.db"
    assert backend.saved_url(tmp_path / "elsewhere") == f"sqlite:///{tmp_path / 'session' / 'labels.db'}"
    with pytest.raises(FileNotFoundError, match=r"label database .* is missing"):
        resolve_saved_url("sqlite:///labels.db", tmp_path / "session")
    LabelStore(backend, NAMES)
    assert resolve_saved_url("sqlite:///labels.db", tmp_path / "session") == _sqlite(tmp_path / "session")


# ---------------------------------------------------------------------------------------------- processes
def _run_team(url: str, tmp_path: Path, workers: int, n: int, k: int) -> list[dict]:
    LabelStore(url, NAMES).close()  # created once; workers open it
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), url, f"annotator{w}", str(n), str(k), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for w in range(workers)
    ]
    for p in procs:  # every worker has imported and connected before any starts
        assert p.stdout is not None and p.stdout.readline().strip() == "ready", p.stderr and p.stderr.read()
    go.touch()
    results = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    total = max(r["ended"] for r in results) - min(r["began"] for r in results)  # labeling only, no start-up
    for r in results:
        rate = len(r["indices"]) / r["seconds"] if r["seconds"] else float("inf")
        print(f"{r['annotator']}: {len(r['indices'])} labels in {r['seconds']:.2f} s = {rate:.0f} labels/s")
    print(f"{workers} processes, {n} labels in total: {total:.2f} s wall ({n / total:.0f} labels/s together)")
    return results


def _check_team(url: str, results: list[dict], n: int) -> None:
    done = [i for r in results for i in r["indices"]]
    assert sorted(done) == list(range(n))  # nothing lost, nothing labeled twice: the batches were disjoint
    store = LabelStore(url, NAMES)
    assert store.labels == {i: i % 3 for i in range(n)}
    labels = [a for a in store.actions if a.type == "label"]
    assert len(labels) == n and store.conflicts() == []
    owner = {i: r["annotator"] for r in results for i in r["indices"]}
    assert all(a.annotator == owner[a.index] for a in labels)  # each label carries its annotator's name
    assert sum(1 for r in results if r["indices"]) >= 2  # the work was shared
    store.close()


@pytest.mark.slow
def test_several_processes_label_one_sqlite_store_concurrently(tmp_path: Path) -> None:
    url = _sqlite(tmp_path)
    n = 120
    _check_team(url, _run_team(url, tmp_path, workers=4, n=n, k=5), n)


_KILLED = """
import sys
from alnb.store import LabelStore
store = LabelStore(sys.argv[1], ["cat", "dog", "bird"])
print("leased", *store.lease(range(1000, 1005), 5, annotator="gone", ttl=1.0), flush=True)
i = 0
while True:
    store.label(i, i % 3, annotator="killed")
    print(i, flush=True)  # printed only after the transaction committed
    i += 1
"""


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_sigkill_of_a_writer_keeps_every_committed_label(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = _sqlite(tmp_path) if kind == "sqlite" else _database(request.getfixturevalue("postgres"), "killed")
    LabelStore(url, NAMES).close()
    child = subprocess.Popen([sys.executable, "-c", _KILLED, url], stdout=subprocess.PIPE, text=True)
    try:
        leased = child.stdout.readline().split()[1:]
        confirmed = [int(child.stdout.readline()) for _ in range(40)]
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
        child.stdout.close()
    store = LabelStore(url, NAMES)
    labels = store.labels
    assert all(labels[i] == i % 3 for i in confirmed)
    assert sorted(labels) == list(range(len(labels)))  # a prefix of the sequence, no holes
    assert leased == ["1000", "1001", "1002", "1003", "1004"]
    time.sleep(1.0)  # the killed annotator's lease runs out, and its items return to the queue
    assert store.lease(range(1000, 1005), 5, annotator="next") == [1000, 1001, 1002, 1003, 1004]
    store.label(len(labels), 0)  # the store goes on after the kill
    assert len(LabelStore(url, NAMES).labels) == len(labels) + 1


# ---------------------------------------------------------------------------------------------- PostgreSQL
PG_PASSWORD = "alnb-test-pw-7f3"  # of a throw-away server that listens on no network
PG_PASSWORD_ENV = "ALNB_TEST_PG_PASSWORD"


def _pg_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return versions[-1].parent if versions else None


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A PostgreSQL server of this test run only: a temp folder, no TCP, a Unix socket in that folder.

    Yields the socket folder. Connections need the password of the user ``alnb`` (SCRAM), which the tests read
    from the environment variable :data:`PG_PASSWORD_ENV`. As root the server runs as the ``postgres`` user
    (PostgreSQL refuses root).
    """
    bindir = _pg_bin()
    if bindir is None or not (bindir / "initdb").exists():
        pytest.skip(
            "PostgreSQL server binaries (initdb, pg_ctl) not found; install Debian's postgresql package"
        )
    folder = Path(tempfile.mkdtemp(prefix="alnb-pg-"))  # short: a socket path must stay under 108 bytes
    prefix: list[str] = []
    if os.geteuid() == 0:
        import pwd

        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root without a 'postgres' user to run the server as")
        os.chown(folder, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data = folder / "data"
    pwfile = folder / "pw"
    pwfile.write_text(PG_PASSWORD + "\n")
    if prefix:
        os.chown(pwfile, user.pw_uid, user.pw_gid)
    subprocess.run(
        [
            *prefix,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "alnb",
            "-A",
            "scram-sha-256",
            f"--pwfile={pwfile}",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    options = f"-k {folder} -c listen_addresses=''"
    subprocess.run(
        [
            *prefix,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(folder / "server.log"),
            "-w",
            "-t",
            "60",
            "-o",
            options,
            "start",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    pwfile.unlink()
    previous = os.environ.get(PG_PASSWORD_ENV)
    os.environ[PG_PASSWORD_ENV] = PG_PASSWORD  # the worker processes inherit it
    try:
        yield str(folder)
    finally:
        if previous is None:
            os.environ.pop(PG_PASSWORD_ENV, None)
        else:
            os.environ[PG_PASSWORD_ENV] = previous
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            timeout=120,
        )
        shutil.rmtree(folder, ignore_errors=True)


def _database(socket: str, name: str) -> str:
    """A new database on the test server; its URL names the password's environment variable, not the password."""
    import psycopg

    with psycopg.connect(
        host=socket, user="alnb", password=PG_PASSWORD, dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql://alnb@/{name}?host={socket}&password_env={PG_PASSWORD_ENV}"


def _url_of(socket: str, name: str) -> str:
    return f"postgresql://alnb@/{name}?host={socket}&password_env={PG_PASSWORD_ENV}"


@pytest.mark.slow
def test_several_processes_label_one_postgresql_store_concurrently(postgres: str, tmp_path: Path) -> None:
    url = _database(postgres, "team")
    n = 120
    _check_team(url, _run_team(url, tmp_path, workers=4, n=n, k=5), n)


@pytest.mark.slow
def test_postgresql_store_semantics_and_copy(postgres: str, tmp_path: Path) -> None:
    url = _database(postgres, "semantics")
    alice, bob = LabelStore(url, NAMES, conflict_rule="majority"), LabelStore(url, NAMES)
    assert alice.lease(range(6), 2, annotator="alice") == [0, 1]
    assert bob.lease(range(6), 2, annotator="bob") == [2, 3]
    alice.label(0, 1, annotator="alice")
    bob.label(0, 2, annotator="bob")
    bob.label(2, 2, annotator="bob")
    assert alice.undo().index == 0 and bob.labels == {0: 2, 2: 2}  # alice's undo leaves bob's label
    assert sorted(alice.leases()) == [1, 3]
    copy = _database(postgres, "copy")
    assert alice.copy_to(copy).startswith("postgresql+psycopg://alnb@/copy")
    assert LabelStore(copy, NAMES).state() == bob.state()
    moved = LabelStore(tmp_path / "labels.jsonl", NAMES)
    moved.label(5, 0)
    moved.copy_to(_database(postgres, "moved"))
    assert LabelStore(_url_of(postgres, "moved"), NAMES).labels == {5: 0}
    with pytest.raises(Exception, match="password authentication failed"):  # the server really checks it
        LabelStore(f"postgresql://alnb:wrong@/moved?host={postgres}", NAMES)
    for store in (alice, bob):
        store.close()


@pytest.mark.slow
def test_a_learner_session_on_postgresql_saves_no_password(
    postgres: str, clip_dir: str, color_dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conftest import COLOR_NAMES

    from alnb import ActiveLearner, Pool, Trainer, TrainerConfig
    from alnb.models import load_classifier

    names = list(COLOR_NAMES)
    _database(postgres, "session")
    url = f"postgresql://alnb:{PG_PASSWORD}@/session?host={postgres}"  # a password written in the URL
    store = LabelStore(url, names)
    assert PG_PASSWORD not in repr(store) and PG_PASSWORD not in store.describe()
    classifier = load_classifier(clip_dir, names, adapter="coop", n_ctx=4)
    trainer = Trainer(TrainerConfig(epochs=1, batch_size=8, lr=0.01, seed=0, quiet=True))
    learner = ActiveLearner(
        classifier, Pool(color_dataset, names, store=store), trainer, "random", None, seed=0
    )
    query = learner.query()
    learner.teach(query.indices, [0] * len(query))
    learner.save(tmp_path / "session")
    saved = (tmp_path / "session" / "learner.json").read_text()
    assert PG_PASSWORD not in saved and json.loads(saved)["store"].startswith("postgresql+psycopg://alnb@/")
    assert not any(
        PG_PASSWORD in f.read_bytes().decode("latin-1")
        for f in (tmp_path / "session").rglob("*")
        if f.is_file()
    )
    monkeypatch.setenv("PGPASSWORD", PG_PASSWORD)  # how the resumed session gets it: libpq's own variable
    resumed = ActiveLearner.load(tmp_path / "session", color_dataset)
    assert resumed.pool.store.url is not None and resumed.pool.store.labels == store.labels
    assert len(resumed.pool.store.labels) == len(query)


def test_a_learner_session_on_sqlite_moves_with_its_folder(
    clip_dir: str, color_dataset, tmp_path: Path
) -> None:
    from conftest import COLOR_NAMES

    from alnb import ActiveLearner, Pool, Trainer, TrainerConfig
    from alnb.models import load_classifier

    names = list(COLOR_NAMES)
    store = LabelStore(_sqlite(tmp_path / "session"), names)
    classifier = load_classifier(clip_dir, names, adapter="coop", n_ctx=4)
    trainer = Trainer(TrainerConfig(epochs=1, batch_size=8, lr=0.01, seed=0, quiet=True))
    learner = ActiveLearner(
        classifier, Pool(color_dataset, names, store=store), trainer, "random", None, seed=0
    )
    query = learner.query()
    learner.teach(query.indices, [1] * len(query))
    learner.save(tmp_path / "session")
    assert json.loads((tmp_path / "session" / "learner.json").read_text())["store"] == "sqlite:///labels.db"
    store.close()
    shutil.move(tmp_path / "session", tmp_path / "moved")
    resumed = ActiveLearner.load(tmp_path / "moved", color_dataset)
    assert resumed.pool.store.path == (tmp_path / "moved" / "labels.db")
    assert resumed.pool.store.labels == {int(i): 1 for i in query.indices}
    (tmp_path / "moved" / "labels.db").unlink()
    with pytest.raises(FileNotFoundError, match="is missing"):
        ActiveLearner.load(tmp_path / "moved", color_dataset)


# ---------------------------------------------------------------------------------------------- widget
def test_two_labeling_widgets_share_one_sqlite_store(color_dataset, tmp_path: Path) -> None:
    """Two notebooks (two pools, two widgets, two annotators) on one database: leased batches, own undo."""
    import numpy as np

    from alnb.learner import Query
    from alnb.pool import Pool
    from alnb.widgets import LabelingWidget

    names = list(color_dataset.features["label"].names)
    url = _sqlite(tmp_path)
    pools = [Pool.from_file(url, color_dataset, names) for _ in range(2)]
    ranked = list(range(12))  # what the strategy proposed, best first
    widgets = []
    for pool, who in zip(pools, ["alice", "bob"]):
        batch = pool.store.lease(ranked, 3, annotator=who)
        n = len(batch)
        query = Query(
            np.asarray(batch), np.ones(n), np.zeros(n, dtype=np.int64), np.full(n, 0.5), 0, "entropy"
        )
        widgets.append(LabelingWidget(pool, query, annotator=who))
    assert [w.query.indices.tolist() for w in widgets] == [[0, 1, 2], [3, 4, 5]]
    alice, bob = widgets
    alice.class_buttons[1].click()
    bob.class_buttons[2].click()
    bob.class_buttons[0].click()
    alice.undo_button.click()  # alice's undo takes back her own label, not bob's later ones
    store = LabelStore(url, names)
    assert store.labels == {3: 2, 4: 0}
    assert {a.annotator for a in store.actions} == {"alice", "bob"}
    assert sorted(store.leases()) == [0, 1, 2, 5]  # labeled items left the lease table
    assert pools[0].labeled.tolist() == [3, 4]  # alice's pool sees bob's labels: the learner trains on both


def test_two_sessions_on_one_sqlite_store_get_disjoint_batches_and_train_on_both(
    clip_dir, color_dataset, tmp_path: Path
) -> None:
    """A team from the widget: each ActiveLearningSession leases its own batch (audit items included), labels
    carry the annotator's name, and each learner retrains on everyone's labels."""
    from alnb.learner import ActiveLearner
    from alnb.models import load_classifier
    from alnb.pool import Pool
    from alnb.training import Trainer, TrainerConfig
    from alnb.widgets import ActiveLearningSession

    names = list(color_dataset.features["label"].names)
    url = _sqlite(tmp_path)
    truth = color_dataset["label"]
    sessions = []
    for who in ("alice", "bob"):
        learner = ActiveLearner(
            load_classifier(clip_dir, names, adapter="coop", n_ctx=2),
            Pool.from_file(url, color_dataset, names),
            Trainer(TrainerConfig(epochs=1, batch_size=8, quiet=True)),
            "entropy",
            query_size=4,
            seed=0,  # the same seed: without leases both would be offered the same random batch
        )
        sessions.append(ActiveLearningSession(learner, annotator=who, batch_size=6, background=False).start())
    bob = sessions[1]
    batches = [set(s.query.indices.tolist()) for s in sessions]
    assert len(batches[0]) == len(batches[1]) == 6 and not batches[0] & batches[1]
    leases = LabelStore(url, names).leases()
    assert {i for i, lease in leases.items() if lease.annotator == "alice"} == batches[0]
    assert {i for i, lease in leases.items() if lease.annotator == "bob"} == batches[1]
    for session in sessions:  # each labels its batch (the true classes) and submits: a fit on all labels so far
        for index in session.query.indices.tolist():
            session.labeling.label(truth[index], index)
        session.labeling.submit()
    store = LabelStore(url, names)
    assert set(store.labels) == batches[0] | batches[1]
    assert {a.annotator for a in store.actions if a.index in batches[1]} == {"bob"}
    assert bob.learner.history[-1]["num_labeled"] == 12  # bob's fit saw alice's six labels too
    next_batches = [set(s.query.indices.tolist()) for s in sessions]
    assert not next_batches[0] & next_batches[1] and not (next_batches[0] | next_batches[1]) & set(store.labels)
