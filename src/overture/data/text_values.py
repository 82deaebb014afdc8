"""Text read as a typed value, the same on every engine: text that is not one is NULL.

`load_file` types the columns of its file this way, and `reconcile` types a file's text
like the profile column it matches. The engines' own casts cannot be used for that:
they disagree (DuckDB reads the integer `4.5` as 5 and `0x10` as 16; PostgreSQL reads
`03/04/2024` as a date and `now` as a timestamp) and PostgreSQL has no TRY_CAST, so one
bad value would fail the whole statement. Here the accepted forms are patterns checked
before any cast, and the casts that run can no longer fail:

- integers: `[+-]digits`, within the type's range;
- decimals: `[+-]digits[.digits]` (no exponent), rounded half away from zero to the
  scale, within the precision;
- floats: a decimal with an optional exponent of up to 3 digits, zero or between 1e-300
  and 1e300 in magnitude;
- booleans: `true t yes y 1` and `false f no n 0`, in any case;
- dates: `YYYY-M-D` (one or two digits for month and day), a real calendar day of a
  year from 1;
- timestamps: a date, optionally followed by ` ` or `T` and `HH:MM[:SS[.ffffff]]`, and
  by `Z` or an offset (`+HH`, `+HHMM`, `+HH:MM`); an offset is applied, so the value is
  the naive UTC instant (spec §3: naive timestamps are UTC);
- UUIDs: 8-4-4-4-12 hexadecimal digits, in any case.

Every expression is built from Ibis operations that both DuckDB and PostgreSQL run; the
two nested CASEs matter on PostgreSQL, which does not promise to evaluate the operands of
AND in order, but does evaluate only the branch of a CASE that is taken.
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

INTEGER = r"^[+-]?[0-9]+$"
DECIMAL = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$"
FLOAT = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,3})?$"
_DAY = r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
DATE = rf"^{_DAY}$"
_TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,6})?)?"
_ZONE = r"(?:Z|[+-](?:[01][0-9]|2[0-3])(?::?[0-5][0-9])?)"
TIMESTAMP = rf"^{_DAY}(?:[ T]{_TIME}{_ZONE}?)?$"
#: the parts, each read by a pattern of its own (DuckDB's regexp_extract counts at most
#: 9 groups); only applied to text matching TIMESTAMP
_YMD = r"^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})"
_HMSF = r"^[^ T]+[ T]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,6}))?)?"
_OFFSET = r"[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?([+-])([0-9]{2}):?([0-9]{2})?$"
UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
TRUE = ("true", "t", "yes", "y", "1")
FALSE = ("false", "f", "no", "n", "0")
#: floats outside these magnitudes (but zero) are refused: far from the edges of float64,
#: where engines would round the same text differently
FLOAT_MIN, FLOAT_MAX = 1e-300, 1e300
_INT_RANGES = {8: (-(2**7), 2**7 - 1), 16: (-(2**15), 2**15 - 1),
               32: (-(2**31), 2**31 - 1), 64: (-(2**63), 2**63 - 1)}


class UnsupportedType(Exception):
    """No text form is defined for this type."""


def _when(condition: ir.BooleanValue, value: ir.Value, dtype: dt.DataType) -> ir.Value:
    return ibis.ifelse(condition, value, ibis.null(dtype))


def supported(dtype: dt.DataType) -> bool:
    """Whether text can be read as this type (time zone aware timestamps cannot: their
    text on each engine depends on the session's time zone)."""
    return (dtype.is_string() or dtype.is_integer() or dtype.is_decimal()
            or dtype.is_floating() or dtype.is_boolean() or dtype.is_date()
            or dtype.is_uuid() or (dtype.is_timestamp() and dtype.timezone is None))


def parse_text(text: ir.StringValue, dtype: dt.DataType | str, backend: str) -> ir.Value:
    """`text` (already trimmed) as `dtype`, NULL when it is not a value of that type.

    `backend` is the data plane's (`duckdb`, `postgres`): floats and decimals are range
    checked by each engine's own exact arithmetic, with the same outcome.
    """
    dtype = dt.dtype(dtype)
    if dtype.is_string():
        return text
    if dtype.is_boolean():
        lowered = text.lower()
        return ibis.cases((lowered.isin(TRUE), True), (lowered.isin(FALSE), False),
                          else_=ibis.null("boolean"))
    if dtype.is_integer():
        return _integer(text, dtype)
    if dtype.is_decimal():
        return _decimal(text, dtype, backend)
    if dtype.is_floating():
        return _float(text, dtype, backend)
    if dtype.is_date():
        return _when(text.re_search(DATE), _date(text), dtype)
    if dtype.is_timestamp() and dtype.timezone is None:
        return _when(text.re_search(TIMESTAMP), _timestamp(text), dtype)
    if dtype.is_uuid():
        return _when(text.re_search(UUID), text.lower().try_cast(dtype), dtype)
    raise UnsupportedType(f"no text form for {dtype}")


def _integer(text: ir.StringValue, dtype: dt.DataType) -> ir.Value:
    bits = dtype.nbytes * 8
    low, high = _INT_RANGES[bits] if dtype.is_signed_integer() else (0, 2**bits - 1)
    negative = text.startswith("-")
    digits = text.re_replace(r"^[+-]?0*", "")
    # digits of 18 or fewer always fit an int64; 19 are compared in two parts (the
    # first 18 digits, then the last), never as a number that could overflow
    head = _when(digits.length() == 19, digits.left(18), "string").try_cast("int64")
    last = _when(digits.length() == 19, digits.right(1), "string").try_cast("int64")
    limit_head, limit_last = divmod(2**63, 10)
    fits64 = (digits.length() <= 18) | (
        (digits.length() == 19) & ((head < limit_head) | (
            (head == limit_head) & (last <= ibis.ifelse(negative, limit_last, limit_last - 1)))))
    value = _when(fits64, text.try_cast("int64"), "int64")
    in_range = value.between(low, high)
    return _when(text.re_search(INTEGER), _when(in_range, value.try_cast(dtype), dtype), dtype)


def _decimal(text: ir.StringValue, dtype: dt.DataType, backend: str) -> ir.Value:
    precision = dtype.precision or 18
    scale = dtype.scale or 0
    if backend == "duckdb":
        return _when(text.re_search(DECIMAL), text.try_cast(dtype), dtype)
    exact = text.try_cast(dt.Decimal())  # PostgreSQL's NUMERIC: any number of digits
    # rounded half away from zero to `scale` places, it stays below 10^(precision-scale)
    bound = ibis.literal(f"{10 ** (precision - scale)}").try_cast(dt.Decimal())
    half = ibis.literal(f"5e-{scale + 1}").try_cast(dt.Decimal())
    fits = exact.abs() < bound - half
    return _when(text.re_search(DECIMAL), _when(fits, exact.try_cast(dtype), dtype), dtype)


def _float(text: ir.StringValue, dtype: dt.DataType, backend: str) -> ir.Value:
    def magnitude_ok(value: ir.NumericValue) -> ir.BooleanValue:
        return (value == 0) | value.abs().between(FLOAT_MIN, FLOAT_MAX)

    if backend == "duckdb":
        value = text.try_cast("float64")
        mantissa = text.re_replace(r"[eE].*$", "")
        # DuckDB reads a number too small for a float64 as 0: zero only if written so
        zero = ~mantissa.re_search("[1-9]")
        ok = value.notnull() & ~value.isinf() & (
            ((value == 0) & zero) | ((value != 0) & magnitude_ok(value)))
        return _when(text.re_search(FLOAT), _when(ok, value.try_cast(dtype), dtype), dtype)
    exact = text.try_cast(dt.Decimal())
    # well inside float64 (no rounding to infinity or to 0); then checked as a float,
    # as DuckDB does
    castable = (exact == 0) | exact.abs().between(FLOAT_MIN / 10, FLOAT_MAX * 10)
    value = _when(castable, exact.try_cast("float64"), "float64")
    inner = _when(magnitude_ok(value), value.try_cast(dtype), dtype)
    return _when(text.re_search(FLOAT), inner, dtype)


def _group(text: ir.StringValue, pattern: str, index: int) -> ir.IntegerValue:
    """A group of digits as a number, 0 when the group did not match (DuckDB gives '',
    PostgreSQL NULL). TRY_CAST on DuckDB, which may evaluate it on rows a CASE leaves
    out; a CAST on PostgreSQL, which does not, and where the pattern checked the digits."""
    part = text.re_extract(pattern, index)
    return ibis.ifelse(part.isnull() | (part == ""), "0", part).try_cast("int64")


def _leap(year: ir.IntegerValue) -> ir.BooleanValue:
    return ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)


def _valid_day(year: ir.IntegerValue, month: ir.IntegerValue,
               day: ir.IntegerValue) -> ir.BooleanValue:
    long_month = month.isin([1, 3, 5, 7, 8, 10, 12])
    last = ibis.cases((month == 2, ibis.ifelse(_leap(year), 29, 28)),
                      (long_month, 31), else_=30)
    return (year >= 1) & month.between(1, 12) & (day >= 1) & (day <= last)


def _date(text: ir.StringValue) -> ir.Value:
    """Only evaluated on text matching DATE or TIMESTAMP."""
    year, month, day = (_group(text, _YMD, g) for g in (1, 2, 3))
    return _when(_valid_day(year, month, day), ibis.date(year, month, day), "date")


def _timestamp(text: ir.StringValue) -> ir.Value:
    """Only evaluated on text matching TIMESTAMP."""
    year, month, day = (_group(text, _YMD, g) for g in (1, 2, 3))
    hour, minute, second = (_group(text, _HMSF, g) for g in (1, 2, 3))
    fraction = text.re_extract(_HMSF, 4)
    micros = ibis.ifelse(fraction.isnull() | (fraction == ""), "0",
                         fraction.rpad(6, "0")).try_cast("int64")
    sign = ibis.ifelse(text.re_extract(_OFFSET, 1) == "-", -1, 1)
    offset = sign * (_group(text, _OFFSET, 2) * 60 + _group(text, _OFFSET, 3))
    moment = ibis.timestamp(year, month, day, hour, minute, second)
    moment = moment + micros.as_interval("us") - offset.as_interval("m")
    return _when(_valid_day(year, month, day), moment, "timestamp")
