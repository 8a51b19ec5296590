"""Schema migrations: versioned, idempotent, and safe when several processes start at once."""

import threading

from onestop import db, migrations


def test_many_processes_starting_at_once_migrate_exactly_once(database_url):
    database = db.bind(database_url)
    results, errors = [], []
    barrier = threading.Barrier(6)

    def start():
        try:
            barrier.wait()
            database.connect(reuse_if_open=True)
            results.append(migrations.migrate())
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            database.close()

    threads = [threading.Thread(target=start) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(len(r) for r in results) == [0, 0, 0, 0, 0, len(migrations.MIGRATIONS)]
    database.connect(reuse_if_open=True)
    assert migrations.current_version() == migrations.MIGRATIONS[-1][0]
    assert migrations.migrate() == []
    database.close()
