import re

from overture.store.ids import new_run_id


def test_run_ids_are_12_lowercase_hex_and_distinct():
    ids = [new_run_id() for _ in range(1000)]
    assert all(re.fullmatch(r"[0-9a-f]{12}", run_id) for run_id in ids), ids[:5]
    assert len(set(ids)) == len(ids)
