"""The suppression list and unsubscribes in the data plane, on DuckDB and PostgreSQL.

Expectations are written by hand or computed in Python from the inputs, never read
back from the engine's own output.
"""

from __future__ import annotations

import gzip
import random
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from overture.data import suppressions as sup
from overture.data.plane import DataPlane
from overture.data.suppressions import (
    SuppressionError,
    SuppressionResult,
    add_suppressions,
    count_suppressions,
    import_suppressions,
    list_suppressions,
    normalize_address,
    normalize_address_sql,
    record_unsubscribe,
    remove_suppressions,
    suppressed_addresses,
    unsubscribed_keys,
)
from overture.errors import OvertureError

T0 = datetime(2027, 3, 1, 9, 0)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def stored(plane: DataPlane) -> list[tuple[str, str]]:
    """`(channel, address)` of every row, sorted, duplicates kept."""
    rows = plane.con.table(sup.SUPPRESSIONS).to_pyarrow().to_pylist()
    return sorted((r["channel"], r["address"]) for r in rows)


def column(table: Any, name: str) -> list[Any]:
    return sorted(table.to_pyarrow().column(name).to_pylist())


# ---- normalisation --------------------------------------------------------------------

@pytest.mark.parametrize(("channel", "value", "expected"), [
    ("email", "  Ann@Example.COM\t", "ann@example.com"),
    ("email", "\u00a0bob@x.io\u202f\r\n", "bob@x.io"),
    ("email", "ÉLISE@Exemple.FR", "Élise@exemple.fr"),  # only ASCII letters are folded
    ("email", "a b@x.io", "a b@x.io"),  # inner spaces are kept: no guessing
    ("sms", "+33 6 12-34.56", "+336123456"),
    ("sms", " (555) 123-4567 ", "5551234567"),
    ("sms", "+33\u00a06\u202f12", "+33612"),
    ("push", "  AbC:def_123-XYZ \n", "AbC:def_123-XYZ"),  # tokens keep their case
    ("email", " \t ", ""),
    ("sms", " -().", ""),
])
def test_normalize_address_examples(channel: str, value: str, expected: str) -> None:
    assert normalize_address(value, channel) == expected


ALPHABET = (list("abcXYZ019@+.-()_:") + list(sup.WHITESPACE) + ["É", "é", "ß", "İ", "\u0131", "Σ",
            "ﬁ", "Ǆ", "\u0301", "😀", "'", '"', "\\", "%", "[", "]", "^", "$", "*"])


def sample_values(count: int, seed: int = 7) -> list[str]:
    """Hand-picked edge cases, then random strings over an alphabet of troublemakers."""
    rng = random.Random(seed)
    values = ["", " ", "A", "ANN@EXAMPLE.COM", " +33 (0)6 12-34.56 ", "x' OR '1'='1",
              "\u00a0\u00a0", "Straße@Bücher.DE", "İSTANBUL@x.TR", "ǅ@Ǆ.ǆ", "\ta\tb\t",
              "a\nb", "((--..))", "\u202f+1 555\u202f0100"]
    while len(values) < count:
        values.append("".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 12))))
    return values


def test_python_and_engine_normalisation_agree(plane: DataPlane) -> None:
    values = sample_values(1500)
    table = ibis.memtable(pa.table({"v": pa.array([*values, None], pa.string())}))
    for channel in sup.CHANNELS:
        expr = table.select(table.v, n=normalize_address_sql(table.v, channel))
        got = {row["v"]: row["n"] for row in expr.to_pyarrow().to_pylist()}
        expected = {v: normalize_address(v, channel) for v in values}
        mismatches = {v: (got[v], expected[v]) for v in values if got[v] != expected[v]}
        assert not mismatches, f"{channel}: {list(mismatches.items())[:5]}"
        assert got[None] is None


def test_unknown_channel_and_reason_are_refused_with_the_choices(plane: DataPlane) -> None:
    with pytest.raises(SuppressionError, match=r"unknown channel 'fax': use email, sms or push"):
        add_suppressions(plane, "fax", ["a@x.io"])
    with pytest.raises(SuppressionError, match="'direct_mail'"):
        normalize_address("x", "direct_mail")
    with pytest.raises(SuppressionError,
                       match=r"unknown reason 'spam': use manual, hard_bounce or complaint"):
        add_suppressions(plane, "email", ["a@x.io"], reason="spam")
    with pytest.raises(TypeError, match="not one string"):
        add_suppressions(plane, "email", "ann@x.io")  # would be 8 one-letter addresses
    with pytest.raises(TypeError, match="not one string"):
        remove_suppressions(plane, "email", "ann@x.io")
    assert issubclass(SuppressionError, OvertureError)
    assert not plane.has_table(sup.SUPPRESSIONS)  # nothing was written


# ---- reads before any write -----------------------------------------------------------

def test_readers_of_missing_tables_get_nothing(plane: DataPlane) -> None:
    assert suppressed_addresses(plane, "email") is None
    assert unsubscribed_keys(plane, "customers", "email") is None
    assert list_suppressions(plane) == []
    assert count_suppressions(plane) == {}
    assert remove_suppressions(plane, "email", ["a@x.io"]) == 0
    assert not plane.has_table(sup.SUPPRESSIONS)


# ---- add ------------------------------------------------------------------------------

def test_add_counts_added_already_and_invalid_and_stores_each_address_once(
        plane: DataPlane) -> None:
    first = add_suppressions(plane, "email", ["Ann@Example.com ", "ann@example.com", "",
                                              "  ", "bob@x.io", "ANN@EXAMPLE.COM"],
                             source="test", at=T0)
    # ann three times (once added, twice repeated in the batch), two blanks
    assert first == SuppressionResult(added=2, already=2, invalid=2)
    assert first.total == 6
    second = add_suppressions(plane, "email", ["BOB@x.io", "cy@x.io"], reason="complaint",
                              at=T0 + timedelta(days=1))
    assert second == SuppressionResult(added=1, already=1, invalid=0)
    assert stored(plane) == [("email", "ann@example.com"), ("email", "bob@x.io"),
                             ("email", "cy@x.io")]
    rows = {r["address"]: r for r in list_suppressions(plane)}
    # an address already suppressed keeps its first row
    assert rows["bob@x.io"]["reason"] == "manual" and rows["bob@x.io"]["source"] == "test"
    assert rows["bob@x.io"]["added_at"] == T0
    assert rows["cy@x.io"]["reason"] == "complaint" and rows["cy@x.io"]["source"] is None


def test_the_same_address_on_two_channels_is_two_rows(plane: DataPlane) -> None:
    add_suppressions(plane, "push", ["tok12345"])
    add_suppressions(plane, "sms", ["tok12345"])
    assert add_suppressions(plane, "push", ["TOK12345"]).added == 1  # push keeps case
    assert stored(plane) == [("push", "TOK12345"), ("push", "tok12345"), ("sms", "tok12345")]


def test_an_empty_batch_and_a_batch_of_blanks_write_nothing(plane: DataPlane) -> None:
    assert add_suppressions(plane, "email", []) == SuppressionResult(0, 0, 0)
    assert add_suppressions(plane, "email", [" ", "\t"]) == SuppressionResult(0, 0, 2)
    assert count_suppressions(plane) == {}


def test_a_nul_character_makes_a_value_invalid_instead_of_failing(plane: DataPlane) -> None:
    result = add_suppressions(plane, "email", ["a\x00b@x.io", "ok@x.io"])
    assert result == SuppressionResult(added=1, already=0, invalid=1)
    assert stored(plane) == [("email", "ok@x.io")]


def test_timestamps_are_stored_in_utc(plane: DataPlane) -> None:
    paris = timezone(timedelta(hours=2))
    add_suppressions(plane, "email", ["a@x.io"], at=datetime(2027, 6, 1, 12, 0, tzinfo=paris))
    record_unsubscribe(plane, "customers", 1, "email", at=datetime(2027, 6, 1, 12, 0,
                                                                   tzinfo=paris))
    assert list_suppressions(plane)[0]["added_at"] == datetime(2027, 6, 1, 10, 0)
    unsub = plane.con.table(sup.UNSUBSCRIBES).to_pyarrow().to_pylist()
    assert unsub[0]["at"] == datetime(2027, 6, 1, 10, 0)
    before = datetime.now(UTC).replace(tzinfo=None)
    add_suppressions(plane, "email", ["b@x.io"])
    assert list_suppressions(plane, limit=1)[0]["added_at"] >= before - timedelta(seconds=1)


# ---- the delivery engine's view -------------------------------------------------------

def test_suppressed_addresses_excludes_messy_profile_addresses_in_an_anti_join(
        plane: DataPlane) -> None:
    add_suppressions(plane, "email", ["ANA@example.com", "gus@x.io"])
    add_suppressions(plane, "sms", ["+33 6 00 00 00 01"])
    profiles = [{"id": 1, "email": "ana@example.com", "phone": "+33600000001"},
                {"id": 2, "email": " Ana@Example.COM ", "phone": "+33 6 00 00 00 02"},
                {"id": 3, "email": "ben@example.com", "phone": "+33.6.00.00.00.01"},
                {"id": 4, "email": None, "phone": None}]
    table = ibis.memtable(profiles)
    for channel, field, excluded in (("email", "email", {1, 2}), ("sms", "phone", {1, 3})):
        blocked = suppressed_addresses(plane, channel)
        assert blocked is not None and blocked.columns == ("address",)
        keyed = table.mutate(_a=normalize_address_sql(table[field], channel))
        kept = keyed.anti_join(blocked, keyed._a == blocked.address)
        assert column(kept, "id") == sorted({1, 2, 3, 4} - excluded)
    assert column(suppressed_addresses(plane, "email"), "address") == ["ana@example.com",
                                                                      "gus@x.io"]
    assert plane.count(suppressed_addresses(plane, "push")) == 0  # type: ignore[arg-type]


# ---- remove, list, count --------------------------------------------------------------

def test_remove_normalises_and_touches_only_its_channel(plane: DataPlane) -> None:
    add_suppressions(plane, "email", ["ann@x.io", "x' OR '1'='1", "bob@x.io"])
    add_suppressions(plane, "push", ["ann@x.io"])
    assert remove_suppressions(plane, "email", [" ANN@x.io", "ann@x.io", "nobody@x.io"]) == 1
    assert remove_suppressions(plane, "email", ["X' or '1'='1"]) == 1
    assert remove_suppressions(plane, "email", ["", "  "]) == 0
    assert stored(plane) == [("email", "bob@x.io"), ("push", "ann@x.io")]
    # a removed address can be suppressed again
    assert add_suppressions(plane, "email", ["ann@x.io"]).added == 1


def test_remove_many_addresses_in_chunks(plane: DataPlane, monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    monkeypatch.setattr(sup, "DELETE_CHUNK", 3)
    addresses = [f"u{i}@x.io" for i in range(10)]
    add_suppressions(plane, "email", addresses)
    assert remove_suppressions(plane, "email", [*addresses[:7], "none@x.io"]) == 7
    assert stored(plane) == [("email", a) for a in sorted(addresses[7:])]


def test_list_is_most_recent_first_and_count_is_per_channel(plane: DataPlane) -> None:
    add_suppressions(plane, "email", ["old@x.io"], at=T0)
    add_suppressions(plane, "sms", ["+1 555 0100"], reason="hard_bounce", at=T0 + timedelta(1))
    add_suppressions(plane, "email", ["new@x.io", "mid@x.io"], at=T0 + timedelta(2))
    assert [r["address"] for r in list_suppressions(plane)] == [
        "mid@x.io", "new@x.io", "+15550100", "old@x.io"]
    assert [r["address"] for r in list_suppressions(plane, "email", limit=2)] == [
        "mid@x.io", "new@x.io"]
    assert list_suppressions(plane, "sms") == [
        {"channel": "sms", "address": "+15550100", "reason": "hard_bounce", "source": None,
         "added_at": T0 + timedelta(1)}]
    assert count_suppressions(plane) == {"email": 3, "sms": 1}


# ---- unsubscribes ---------------------------------------------------------------------

def test_unsubscribes_are_per_profile_and_channel(plane: DataPlane) -> None:
    assert record_unsubscribe(plane, "customers", 12, "email", source="link") is True
    assert record_unsubscribe(plane, "customers", "12", "email") is False  # the key as text
    assert record_unsubscribe(plane, "customers", 12, "sms") is True
    assert record_unsubscribe(plane, "customers", 7, "email", at=T0) is True
    assert record_unsubscribe(plane, "stores", 12, "email") is True
    keys = unsubscribed_keys(plane, "customers", "email")
    assert keys is not None and keys.columns == ("profile_key",)
    assert column(keys, "profile_key") == ["12", "7"]
    assert column(unsubscribed_keys(plane, "customers", "sms"), "profile_key") == ["12"]
    assert plane.count(unsubscribed_keys(plane, "customers", "push")) == 0  # type: ignore[arg-type]
    rows = plane.con.table(sup.UNSUBSCRIBES).to_pyarrow().to_pylist()
    assert len(rows) == 4
    first = next(r for r in rows if r["profile_key"] == "12" and r["channel"] == "email"
                 and r["dimension"] == "customers")
    assert first["source"] == "link"  # the second click did not replace the first row
    # the delivery engine's anti-join on the key cast to text
    profiles = ibis.memtable({"customer_id": [7, 8, 12]})
    kept = profiles.anti_join(keys, profiles.customer_id.cast("string") == keys.profile_key)
    assert column(kept, "customer_id") == [8]


def test_an_unsubscribe_needs_a_dimension_a_key_and_a_known_channel(plane: DataPlane) -> None:
    with pytest.raises(SuppressionError, match="dimension"):
        record_unsubscribe(plane, "", 1, "email")
    with pytest.raises(SuppressionError, match="profile key"):
        record_unsubscribe(plane, "customers", None, "email")
    with pytest.raises(SuppressionError, match="unknown channel"):
        record_unsubscribe(plane, "customers", 1, "letter")
    assert not plane.has_table(sup.UNSUBSCRIBES)


# ---- concurrency (PostgreSQL: several processes write) --------------------------------

def test_a_concurrent_writer_is_detected_and_the_add_retried(
        postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    plane = DataPlane.connect(postgres_url)
    other = DataPlane.connect(postgres_url)
    try:
        add_suppressions(plane, "email", ["first@x.io"])
        real = sup._execute
        raced: list[str] = []

        def racing(target: DataPlane, sql: str) -> int:
            if sql.startswith("INSERT") and not raced:
                # another process suppresses one of the addresses after our anti-join
                raced.append(sql)
                add_suppressions(other, "email", ["b@x.io"])
            return real(target, sql)

        monkeypatch.setattr(sup, "_execute", racing)
        result = add_suppressions(plane, "email", ["a@x.io", "b@x.io", "first@x.io"])
        assert raced
        assert result == SuppressionResult(added=1, already=2, invalid=0)
        assert stored(plane) == [("email", "a@x.io"), ("email", "b@x.io"),
                                 ("email", "first@x.io")]
    finally:
        plane.close()
        other.close()


def test_a_concurrent_unsubscribe_click_is_recorded_once(
        postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    plane = DataPlane.connect(postgres_url)
    other = DataPlane.connect(postgres_url)
    try:
        record_unsubscribe(plane, "customers", 1, "email")
        real = plane.con.insert

        def racing(name: str, obj: Any, **kwargs: Any) -> Any:
            # the one-click POST and the page's button land together
            assert record_unsubscribe(other, "customers", 5, "email", source="one-click")
            return real(name, obj, **kwargs)

        monkeypatch.setattr(plane.con, "insert", racing)
        assert record_unsubscribe(plane, "customers", 5, "email", source="page") is False
        monkeypatch.undo()
        assert record_unsubscribe(plane, "customers", 6, "email") is True  # still usable
        rows = plane.con.table(sup.UNSUBSCRIBES).to_pyarrow().to_pylist()
        assert sorted((r["profile_key"], r["source"]) for r in rows) == [
            ("1", None), ("5", "one-click"), ("6", None)]
    finally:
        plane.close()
        other.close()


# ---- import ---------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "text", "channel", "col", "expected", "used"), [
    ("plain.csv", "id,email,name\n1,Ann@X.io,Ann\n2,,Bob\n3,cy@x.io,\"Cy, Jr\"\n",
     "email", None, ["ann@x.io", "cy@x.io"], "email"),
    ("address.csv", "email,address\nnot@x.io,yes@x.io\n", "email", None, ["yes@x.io"],
     "address"),
    ("chosen.csv", "work,home\nw@x.io,h@x.io\n", "email", "HOME", ["h@x.io"], "home"),
    ("semi.csv", "Nom;EMAIL\nAnn;ann@x.io\n", "email", None, ["ann@x.io"], "EMAIL"),
    ("tabs.tsv", "email\tx\nann@x.io\t1\n", "email", None, ["ann@x.io"], "email"),
    ("bare.csv", "ann@x.io\n\nBob@x.io\n", "email", None, ["ann@x.io", "bob@x.io"], None),
    ("header1.txt", "E-mail address\nann@x.io\n", "email", None, ["ann@x.io"],
     "E-mail address"),
    ("phones.csv", "phone\n+33 6 12 34 56 78\n", "sms", None, ["+33612345678"], "phone"),
    ("barephones.csv", "+33 6 12 34 56 78\n06.12.34.56.78\n", "sms", None,
     ["+33612345678", "0612345678"], None),
    ("tokens.csv", "token\nAbCdEf123456\n", "push", None, ["AbCdEf123456"], "token"),
    ("baretokens.csv", "fcm:AbCdEf123456\n", "push", None, ["fcm:AbCdEf123456"], None),
    ("bom.csv", "\ufeffemail\nann@x.io\n", "email", None, ["ann@x.io"], "email"),
    ("bombare.csv", "\ufeffann@x.io\n", "email", None, ["ann@x.io"], None),
    ("only.csv", "contact\nann@x.io\n", "email", None, ["ann@x.io"], "contact"),
    ("blanks.csv", "\n \r\n\t\nemail\n\nann@x.io\n", "email", None, ["ann@x.io"], "email"),
])
def test_reading_a_csv_file_picks_the_column(tmp_path: Path, name: str, text: str,
                                             channel: str, col: str | None,
                                             expected: list[str], used: str | None) -> None:
    values, found = sup.read_addresses(write(tmp_path, name, text), channel, col)
    assert found == used
    normalised = [normalize_address(v, channel) for v in values.to_pylist()]
    assert sorted(v for v in normalised if v) == sorted(expected)


def test_import_reads_the_file_into_the_list(duck: DataPlane, tmp_path: Path) -> None:
    path = write(tmp_path, "people.csv", "id;Email\n1;Ann@X.io\n2;\n3;bob@x.io\n4;ann@x.io\n")
    result = import_suppressions(duck, path, "email", reason="complaint")
    assert result == SuppressionResult(added=2, already=1, invalid=1, column="Email")
    assert stored(duck) == [("email", "ann@x.io"), ("email", "bob@x.io")]
    assert {(r["reason"], r["source"]) for r in list_suppressions(duck)} == {
        ("complaint", "import:people.csv")}
    again = import_suppressions(duck, path, "email", source="nightly")
    assert again == SuppressionResult(added=0, already=3, invalid=1, column="Email")


def test_import_gzip_and_parquet(duck: DataPlane, tmp_path: Path) -> None:
    gz = tmp_path / "list.csv.gz"
    gz.write_bytes(gzip.compress(b"email\nA@x.io\nb@x.io\n"))
    assert import_suppressions(duck, gz, "email", reason="hard_bounce").added == 2
    # gzipped without the extension: recognised by its first bytes
    raw = tmp_path / "export.dat"
    raw.write_bytes(gzip.compress(b"c@x.io\n"))
    assert import_suppressions(duck, raw, "email").added == 1
    pq.write_table(pa.table({"id": [1, 2, 3], "phone": [33612345678, None, 33612345678]}),
                   tmp_path / "phones.parquet")
    result = import_suppressions(duck, tmp_path / "phones.parquet", "sms")
    assert result == SuppressionResult(added=1, already=1, invalid=1, column="phone")
    pq.write_table(pa.table({"address": ["D@x.io", " e@x.io"]}), tmp_path / "noext")
    assert import_suppressions(duck, tmp_path / "noext", "email").column == "address"
    assert stored(duck) == [("email", "a@x.io"), ("email", "b@x.io"), ("email", "c@x.io"),
                            ("email", "d@x.io"), ("email", "e@x.io"),
                            ("sms", "33612345678")]
    reasons = {r["address"]: r["reason"] for r in list_suppressions(duck)}
    assert reasons["a@x.io"] == "hard_bounce" and reasons["c@x.io"] == "manual"


def test_import_into_postgres_through_copy(plane: DataPlane, tmp_path: Path) -> None:
    text = ('email\n"Quote""d@x.io"\n"comma,@x.io"\n\\N@x.io\n""\nNULL\n'
            'ann@x.io\n ANN@x.io\n')
    result = import_suppressions(plane, write(tmp_path, "q.csv", text), "email")
    assert result == SuppressionResult(added=5, already=1, invalid=1, column="email")
    assert [a for _, a in stored(plane)] == sorted(
        ['quote"d@x.io', "comma,@x.io", "\\n@x.io", "null", "ann@x.io"])


def test_import_a_large_file_counts_right_and_fast(duck: DataPlane, tmp_path: Path) -> None:
    n = 100_000
    lines = [f"User{i}@Example.com" for i in range(n)]
    lines[10] = lines[20].lower()  # a duplicate under normalisation
    lines[30] = " "                # a blank
    path = tmp_path / "big.csv"
    path.write_text("email\n" + "\n".join(lines) + "\n", encoding="utf-8")
    add_suppressions(duck, "email", ["user40@example.com"])
    started = time.monotonic()
    result = import_suppressions(duck, path, "email")
    seconds = time.monotonic() - started
    assert result == SuppressionResult(added=n - 3, already=2, invalid=1, column="email")
    assert count_suppressions(duck) == {"email": n - 2}
    # row by row this would take minutes; in the engine it takes a fraction of a second
    assert seconds < 8, seconds
    assert not [t for t in duck.list_tables(include_internal=True)
                if t.startswith(sup.STAGE_PREFIX)]


@pytest.mark.parametrize(("name", "content", "col", "message"), [
    ("empty.csv", "", None, r"empty\.csv: the file is empty"),
    ("ragged.csv", "email,name\na@x.io,A\nb@x.io,B,extra\n", None,
     r"ragged\.csv, line 3: 3 fields where the first line has 2"),
    ("quote.csv", 'email\n"a@x.io\nb@x.io\nc@x.io\n', None,
     r"quote\.csv, line 2: a value spans several lines"),
    ("two.csv", "work,home\nw@x.io,h@x.io\n", None,
     r"two\.csv: 2 columns \(work, home\) and none is named address or email: say which "
     r"holds the addresses with --column"),
    ("unknown.csv", "work,home\nw@x.io,h@x.io\n", "office",
     r"unknown\.csv: no column 'office' \(columns: work, home\)"),
    ("bare.csv", "a@x.io\nb@x.io\n", "email",
     r"bare\.csv: no column 'email': the file has one column and no header"),
    ("fake.parquet", "email\na@x.io\n", None, r"fake\.parquet: not a readable Parquet file"),
])
def test_malformed_files_name_the_file_and_line(tmp_path: Path, name: str, content: str,
                                                col: str | None, message: str) -> None:
    path = write(tmp_path, name, content)
    with pytest.raises(SuppressionError, match=message):
        sup.read_addresses(path, "email", col)


def test_a_malformed_file_suppresses_nothing(duck: DataPlane, tmp_path: Path) -> None:
    add_suppressions(duck, "email", ["before@x.io"])
    path = write(tmp_path, "late.csv", "email\n" + "ok@x.io\n" * 1000 + "a,b\n")
    with pytest.raises(SuppressionError, match=r"late\.csv, line 1002: 2 fields"):
        import_suppressions(duck, path, "email")
    assert stored(duck) == [("email", "before@x.io")]


def test_unreadable_inputs_are_clear_errors(duck: DataPlane, tmp_path: Path) -> None:
    with pytest.raises(SuppressionError, match=r"nope\.csv: no such file"):
        import_suppressions(duck, tmp_path / "nope.csv", "email")
    with pytest.raises(SuppressionError, match="is a folder, not a file"):
        import_suppressions(duck, tmp_path, "email")
    bad = tmp_path / "latin1.csv"
    bad.write_bytes("email\nann@x.io\nrené@x.io\n".encode("latin-1"))
    with pytest.raises(SuppressionError, match=r"latin1\.csv, line 3: text that is not valid "
                                               r"UTF-8"):
        import_suppressions(duck, bad, "email")
    pq.write_table(pa.table({"email": [1.5, 2.5]}), tmp_path / "floats.parquet")
    with pytest.raises(SuppressionError, match="column 'email' holds double, not text"):
        import_suppressions(duck, tmp_path / "floats.parquet", "email")
    with pytest.raises(SuppressionError, match="unknown reason"):
        import_suppressions(duck, tmp_path / "nope.csv", "email", reason="bounce")


def test_a_header_only_file_suppresses_nothing(duck: DataPlane, tmp_path: Path) -> None:
    result = import_suppressions(duck, write(tmp_path, "h.csv", "email,name\n"), "email")
    assert result == SuppressionResult(0, 0, 0, column="email")
    assert import_suppressions(duck, write(tmp_path, "blank.csv", "\n\n"), "email").total == 0
