"""The embedded database is durable: WAL journal, synchronous=FULL, foreign keys on."""

from onestop.db import database


def test_sqlite_runs_in_wal_mode_with_full_synchronous_writes(sqlite_app):
    with sqlite_app.app_context():
        database.connect(reuse_if_open=True)
        assert database.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert database.execute_sql("PRAGMA synchronous").fetchone()[0] == 2
        assert database.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
        database.close()


def test_writes_of_many_threads_share_commits_and_a_failing_one_is_undone_alone(tmp_path):
    import threading

    from onestop.db import LocalDatabase

    db = LocalDatabase(str(tmp_path / "group.db"), pragmas={"journal_mode": "wal", "synchronous": "full"})
    db.execute_sql("CREATE TABLE t (n INTEGER PRIMARY KEY)")
    commits = []
    original = db.commit

    def counting_commit(*args, **kwargs):
        commits.append(1)
        return original(*args, **kwargs)

    db.commit = counting_commit
    barrier, outcomes = threading.Barrier(24), {}

    def writer(n):
        def work():
            db.execute_sql("INSERT INTO t (n) VALUES (?)", (n,))
            if n % 7 == 3:
                raise ValueError(f"refused {n}")
            return n

        barrier.wait()
        try:
            outcomes[n] = db.run_write(work)
        except ValueError as exc:
            outcomes[n] = str(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    refused = {n for n in range(24) if n % 7 == 3}
    assert outcomes == {n: (f"refused {n}" if n in refused else n) for n in range(24)}
    db.connect(reuse_if_open=True)
    stored = {row[0] for row in db.execute_sql("SELECT n FROM t")}
    assert stored == set(range(24)) - refused
    assert 1 <= len(commits) < 24  # writers that came together shared a commit
    db.close()
