"""Generate Overture's sample retail data set inside DuckDB.

    python examples/generate.py OUT_DIR --customers 100000 [--seed 42]
        [--reference-date 2027-03-01] [--format parquet|csv]

Every value is a pure function of (seed, row id) computed by DuckDB's `hash()`: no
Python loop ever touches a row, so 10M customers and 50M purchases take about 50 s on
two cores, and the same seed and reference date always give byte-identical files
(with the same DuckDB version). Dates are relative to the reference date.

Tables (one file per table, named TABLE.parquet or TABLE.csv):

- customers: customer_id, first_name, last_name, email, phone, country, city,
  timezone, language, birth_date, age, gender, loyalty_tier, signup_date,
  email_optin, sms_optin, push_optin, push_token, store_id, last_seen_at
- purchases: purchase_id, customer_id, product_id, store_id, purchased_at, quantity,
  amount, channel
- products: product_id, name, category, brand, price
- stores: store_id, name, country, city, region

The module is importable (by path, it is not a package): `create_tables(con, ...)`
builds the four tables in any DuckDB connection (the benchmark generates straight
into a workspace's data file this way) and `generate(out_dir, ...)` also writes them
out.
"""

from __future__ import annotations

import argparse
import sys
import time
import unicodedata
from datetime import date
from pathlib import Path
from typing import NamedTuple

import duckdb

TABLES = ("customers", "purchases", "products", "stores")
KEYS = {"customers": "customer_id", "purchases": "purchase_id", "products": "product_id",
        "stores": "store_id"}
DEFAULT_SEED = 42
DEFAULT_REFERENCE_DATE = date(2027, 3, 1)
PRODUCTS = 2000
#: share of customers with no purchase at all
NON_BUYERS = 0.20

# ---------------------------------------------------------------------------------
# Static reference data (a few hundred values, not rows): rendered into SQL literals.
# ---------------------------------------------------------------------------------

#: country, weight in % of customers
COUNTRIES = [("FR", 28), ("ES", 14), ("DE", 16), ("IT", 11), ("GB", 12), ("US", 9),
             ("NL", 5), ("BE", 5)]

LANGUAGES = ["fr", "es", "de", "it", "en", "nl"]


class City(NamedTuple):
    country: str
    name: str
    region: str
    timezone: str
    weight: int  # % of the country's customers
    stores: int  # how many stores in the city
    language: str
    phone_prefix: str
    phone_digits: int
    alt_language: str | None = None
    alt_share: int = 0  # % of the city's customers speaking alt_language


CITIES = [
    City("FR", "Paris", "Île-de-France", "Europe/Paris", 33, 6, "fr", "+336", 8),
    City("FR", "Lyon", "Auvergne-Rhône-Alpes", "Europe/Paris", 12, 2, "fr", "+336", 8),
    City("FR", "Marseille", "Provence-Alpes-Côte d'Azur", "Europe/Paris", 12, 2, "fr", "+337",
         8),
    City("FR", "Toulouse", "Occitanie", "Europe/Paris", 9, 2, "fr", "+336", 8),
    City("FR", "Nice", "Provence-Alpes-Côte d'Azur", "Europe/Paris", 7, 1, "fr", "+336", 8),
    City("FR", "Nantes", "Pays de la Loire", "Europe/Paris", 7, 1, "fr", "+337", 8),
    City("FR", "Bordeaux", "Nouvelle-Aquitaine", "Europe/Paris", 7, 1, "fr", "+336", 8),
    City("FR", "Lille", "Hauts-de-France", "Europe/Paris", 6, 1, "fr", "+336", 8),
    City("FR", "Strasbourg", "Grand Est", "Europe/Paris", 5, 1, "fr", "+336", 8),
    City("FR", "Saint-Denis", "La Réunion", "Indian/Reunion", 2, 1, "fr", "+262692", 6),
    City("ES", "Madrid", "Community of Madrid", "Europe/Madrid", 30, 3, "es", "+346", 8),
    City("ES", "Barcelona", "Catalonia", "Europe/Madrid", 28, 3, "es", "+346", 8),
    City("ES", "Valencia", "Valencian Community", "Europe/Madrid", 12, 1, "es", "+346", 8),
    City("ES", "Sevilla", "Andalusia", "Europe/Madrid", 12, 1, "es", "+346", 8),
    City("ES", "Bilbao", "Basque Country", "Europe/Madrid", 8, 1, "es", "+346", 8),
    City("ES", "Las Palmas", "Canary Islands", "Atlantic/Canary", 10, 1, "es", "+346", 8),
    City("DE", "Berlin", "Berlin", "Europe/Berlin", 25, 3, "de", "+4917", 8),
    City("DE", "Hamburg", "Hamburg", "Europe/Berlin", 15, 2, "de", "+4915", 8),
    City("DE", "München", "Bavaria", "Europe/Berlin", 18, 2, "de", "+4916", 8),
    City("DE", "Köln", "North Rhine-Westphalia", "Europe/Berlin", 14, 1, "de", "+4917", 8),
    City("DE", "Frankfurt am Main", "Hesse", "Europe/Berlin", 12, 1, "de", "+4915", 8),
    City("DE", "Stuttgart", "Baden-Württemberg", "Europe/Berlin", 9, 1, "de", "+4916", 8),
    City("DE", "Düsseldorf", "North Rhine-Westphalia", "Europe/Berlin", 7, 1, "de", "+4917", 8),
    City("IT", "Roma", "Lazio", "Europe/Rome", 30, 2, "it", "+393", 9),
    City("IT", "Milano", "Lombardy", "Europe/Rome", 30, 3, "it", "+393", 9),
    City("IT", "Napoli", "Campania", "Europe/Rome", 15, 1, "it", "+393", 9),
    City("IT", "Torino", "Piedmont", "Europe/Rome", 13, 1, "it", "+393", 9),
    City("IT", "Bologna", "Emilia-Romagna", "Europe/Rome", 12, 1, "it", "+393", 9),
    City("GB", "London", "Greater London", "Europe/London", 45, 4, "en", "+447", 9),
    City("GB", "Manchester", "North West England", "Europe/London", 15, 1, "en", "+447", 9),
    City("GB", "Birmingham", "West Midlands", "Europe/London", 15, 1, "en", "+447", 9),
    City("GB", "Edinburgh", "Scotland", "Europe/London", 13, 1, "en", "+447", 9),
    City("GB", "Bristol", "South West England", "Europe/London", 12, 1, "en", "+447", 9),
    City("US", "New York", "New York", "America/New_York", 30, 2, "en", "+1212", 7, "es", 15),
    City("US", "Chicago", "Illinois", "America/Chicago", 20, 1, "en", "+1312", 7, "es", 10),
    City("US", "Los Angeles", "California", "America/Los_Angeles", 25, 2, "en", "+1213", 7,
         "es", 25),
    City("US", "Denver", "Colorado", "America/Denver", 10, 1, "en", "+1303", 7, "es", 10),
    City("US", "Miami", "Florida", "America/New_York", 15, 1, "en", "+1305", 7, "es", 40),
    City("NL", "Amsterdam", "North Holland", "Europe/Amsterdam", 45, 2, "nl", "+316", 8, "en", 5),
    City("NL", "Rotterdam", "South Holland", "Europe/Amsterdam", 30, 1, "nl", "+316", 8),
    City("NL", "Utrecht", "Utrecht", "Europe/Amsterdam", 25, 1, "nl", "+316", 8),
    City("BE", "Bruxelles", "Brussels-Capital", "Europe/Brussels", 40, 2, "fr", "+324", 8, "nl",
         20),
    City("BE", "Antwerpen", "Flanders", "Europe/Brussels", 35, 1, "nl", "+324", 8),
    City("BE", "Liège", "Wallonia", "Europe/Brussels", 25, 1, "fr", "+324", 8),
]

#: first names by language: (female, male)
FIRST_NAMES = {
    "fr": (["Marie", "Camille", "Léa", "Manon", "Chloé", "Inès", "Julie", "Sophie", "Emma",
            "Louise", "Claire", "Anaïs", "Élodie", "Nathalie", "Isabelle", "Céline"],
           ["Jean", "Lucas", "Hugo", "Louis", "Thomas", "Nicolas", "Julien", "Antoine",
            "Pierre", "Mathieu", "François", "Théo", "Gabriel", "Olivier", "Étienne", "Rémi"]),
    "es": (["María", "Lucía", "Carmen", "Sofía", "Paula", "Laura", "Marta", "Elena", "Ana",
            "Cristina", "Alba", "Núria"],
           ["Javier", "Alejandro", "Pablo", "Daniel", "Carlos", "David", "Sergio", "José",
            "Manuel", "Álvaro", "Jordi", "Iñaki"]),
    "de": (["Anna", "Lena", "Julia", "Laura", "Katharina", "Sarah", "Sabine", "Petra",
            "Jana", "Lea", "Mia", "Ursula"],
           ["Lukas", "Jonas", "Leon", "Felix", "Maximilian", "Jan", "Stefan", "Thomas",
            "Michael", "Jörg", "Tobias", "Moritz"]),
    "it": (["Giulia", "Francesca", "Chiara", "Sara", "Martina", "Valentina", "Alessia",
            "Elena", "Federica", "Beatrice"],
           ["Marco", "Luca", "Giuseppe", "Alessandro", "Francesco", "Andrea", "Matteo",
            "Lorenzo", "Davide", "Niccolò"]),
    "en": (["Emily", "Olivia", "Jessica", "Sarah", "Charlotte", "Amelia", "Hannah", "Grace",
            "Megan", "Lucy", "Ashley", "Jennifer"],
           ["James", "Oliver", "Jack", "Harry", "William", "George", "Daniel", "Michael",
            "Matthew", "Thomas", "Ryan", "Connor"]),
    "nl": (["Emma", "Sanne", "Lotte", "Fleur", "Anouk", "Femke", "Eva", "Lieke", "Ine",
            "Marieke"],
           ["Daan", "Bram", "Sem", "Lars", "Thijs", "Jeroen", "Pieter", "Koen", "Joost",
            "Wouter"]),
}
LAST_NAMES = {
    "fr": ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand",
           "Leroy", "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David",
           "Bertrand", "Roux", "Vincent", "Fournier", "Morel", "Girard", "André", "Mercier"],
    "es": ["García", "Rodríguez", "González", "Fernández", "López", "Martínez", "Sánchez",
           "Pérez", "Gómez", "Martín", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno",
           "Muñoz", "Álvarez", "Romero", "Puig", "Etxeberria"],
    "de": ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
           "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf",
           "Schröder", "Neumann"],
    "it": ["Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci",
           "Marino", "Greco", "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa"],
    "en": ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies",
           "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green",
           "O'Brien", "Miller", "Garcia", "Murphy"],
    "nl": ["de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Janssen",
           "Visser", "Smit", "Meijer", "de Boer", "Mulder", "Peeters", "Maes", "Claes",
           "Willems"],
}
#: reserved example domains (RFC 2606 / 6761): no real mailbox is ever addressed
EMAIL_DOMAINS = ["example.com", "example.com", "example.org", "example.net", "mail.example",
                 "mail.example", "inbox.example", "post.example"]

#: category: (nouns, min price, max price)
CATEGORIES = {
    "clothing": (["T-shirt", "Jeans", "Jacket", "Dress", "Sweater", "Shirt", "Coat"], 9, 180),
    "shoes": (["Sneakers", "Boots", "Sandals", "Loafers", "Running shoes"], 25, 220),
    "beauty": (["Lipstick", "Perfume", "Face cream", "Shampoo", "Mascara"], 5, 120),
    "home": (["Candle", "Cushion", "Mug", "Vase", "Throw blanket", "Lamp"], 6, 150),
    "electronics": (["Headphones", "Speaker", "Charger", "Smartwatch", "Power bank"], 15, 400),
    "sports": (["Yoga mat", "Running shorts", "Water bottle", "Backpack", "Dumbbells"], 8, 160),
    "toys": (["Puzzle", "Plush bear", "Board game", "Building set"], 7, 90),
    "grocery": (["Coffee beans", "Olive oil", "Chocolate", "Green tea", "Honey"], 3, 35),
}
#: popularity of each category (weights over CATEGORIES' order, sum 100)
CATEGORY_WEIGHTS = [24, 12, 14, 14, 8, 10, 6, 12]
BRANDS = ["Maison Lune", "Nordwind", "Sol y Mar", "Bella Vita", "Urban Fox", "Greenleaf",
          "Atelier 9", "Polar Peak", "Kiwi & Co", "Orbit", "Velvet Bay", "Stride"]
COLOURS = ["Black", "White", "Navy", "Red", "Green", "Beige", "Grey", "Blue", "Rose", "Ochre"]

#: loyalty tiers, their share of customers (%), and how much more they buy
TIERS = [("bronze", 60, 0.7), ("silver", 25, 1.2), ("gold", 11, 2.0), ("platinum", 4, 3.5)]


# ---------------------------------------------------------------------------------
# SQL rendering helpers
# ---------------------------------------------------------------------------------

def lit(value: object) -> str:
    """A SQL literal for static reference data (strings, numbers, lists)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(lit(v) for v in value) + "]"
    raise TypeError(f"no SQL literal for {value!r}")


def slots(weights: list[int], size: int = 100) -> list[int]:
    """Indexes repeated by weight: picking slot `u * size` follows the weights."""
    out: list[int] = []
    for index, weight in enumerate(weights):
        out.extend([index] * weight)
    if len(out) != size:
        raise ValueError(f"weights sum to {len(out)}, not {size}")
    return out


def store_rows() -> list[tuple[int, str, str, str, str, int]]:
    """(store_id, name, country, city, region, city index): ids follow CITIES' order."""
    rows = []
    store_id = 0
    for city_index, city in enumerate(CITIES):
        for k in range(city.stores):
            store_id += 1
            suffix = ["Centre", "Nord", "Sud", "Est", "Ouest", "Gare"][k] if city.stores > 1 else ""
            name = f"Overture {city.name}" + (f" {suffix}" if suffix else "")
            rows.append((store_id, name, city.country, city.name, city.region, city_index))
    return rows


def _check_int(name: str, value: int, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def ascii_name(name: str) -> str:
    """The e-mail form of a name: lower case ASCII letters only ('Lefèvre' -> 'lefevre')."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if "a" <= ch <= "z")


def _flat(groups: list[list[str]]) -> tuple[list[str], list[int], list[int]]:
    """Lists of lists as one flat list plus each group's offset and length.

    DuckDB evaluates a nested list literal for every row, a flat one once: lookups
    index the flat list at offset + n % length.
    """
    flat: list[str] = []
    offsets, lengths = [], []
    for group in groups:
        offsets.append(len(flat))
        lengths.append(len(group))
        flat.extend(group)
    return flat, offsets, lengths


def macros_sql(seed: int) -> str:
    """Temporary macros: uniform draws and static lookups, all functions of (seed, id).

    Indexes (ci city, li language, gi gender, fi first name, ni last name) are 0-based
    positions in the static lists above; each macro takes the indexes it depends on so
    that a query computes each of them once per row.
    """
    seed = _check_int("seed", seed, 0)
    countries = [c for c, _ in COUNTRIES]
    city_slots: list[int] = []
    for country in countries:
        indexes = [i for i, c in enumerate(CITIES) if c.country == country]
        city_slots.extend(indexes[s] for s in slots([CITIES[i].weight for i in indexes]))
    stores = store_rows()
    first_store = [min(s[0] for s in stores if s[5] == ci) for ci in range(len(CITIES))]
    first_flat, first_off, first_len = _flat(
        [names for language in LANGUAGES for names in FIRST_NAMES[language]])
    last_flat, last_off, last_len = _flat([LAST_NAMES[language] for language in LANGUAGES])
    lang_index = {language: i for i, language in enumerate(LANGUAGES)}
    categories = list(CATEGORIES)
    return f"""
-- DuckDB's multi-argument hash() XORs the hashes of its arguments, so hash(seed, salt, i)
-- would give draws differing by fixed bit flips between salts. Mixing i with a
-- per-(seed, salt) constant before hashing gives independent streams.
CREATE OR REPLACE TEMP MACRO ov_h(salt, i) AS hash(xor(hash({seed}, salt), i::UBIGINT));
-- uniform in [0, 1), 53 bits
CREATE OR REPLACE TEMP MACRO ov_u(salt, i) AS (ov_h(salt, i) >> 11)::DOUBLE / 9007199254740992.0;
-- integer in [0, n)
CREATE OR REPLACE TEMP MACRO ov_n(salt, i, n) AS (ov_h(salt, i) % n::UBIGINT)::BIGINT;

-- geography: a country by weight, then a city of that country by weight
CREATE OR REPLACE TEMP MACRO ov_city_idx(i) AS {lit(city_slots)}[
    1 + 100 * {lit(slots([w for _, w in COUNTRIES]))}[1 + ov_n('country', i, 100)]
      + ov_n('city', i, 100)];
CREATE OR REPLACE TEMP MACRO ov_lang_idx(ci, i) AS
    CASE WHEN ov_n('language', i, 100) < {lit([c.alt_share for c in CITIES])}[1 + ci]
         THEN {lit([lang_index[c.alt_language or c.language] for c in CITIES])}[1 + ci]
         ELSE {lit([lang_index[c.language] for c in CITIES])}[1 + ci] END;
-- 0 female, 1 male, 2 unspecified
CREATE OR REPLACE TEMP MACRO ov_gender_idx(i) AS
    CASE WHEN ov_n('gender', i, 1000) < 508 THEN 0
         WHEN ov_n('gender', i, 1000) < 985 THEN 1 ELSE 2 END;
CREATE OR REPLACE TEMP MACRO ov_first_idx(li, gi, i) AS
    {lit(first_off)}[1 + li * 2 + least(gi, 1)]
    + ov_n('first_name', i, {lit(first_len)}[1 + li * 2 + least(gi, 1)]);
CREATE OR REPLACE TEMP MACRO ov_last_idx(li, i) AS
    {lit(last_off)}[1 + li] + ov_n('last_name', i, {lit(last_len)}[1 + li]);
CREATE OR REPLACE TEMP MACRO ov_first_name(fi) AS {lit(first_flat)}[1 + fi];
CREATE OR REPLACE TEMP MACRO ov_last_name(ni) AS {lit(last_flat)}[1 + ni];
-- a customer's own address: first.lastID@domain (unique by construction)
CREATE OR REPLACE TEMP MACRO ov_own_email(i, fi, ni) AS
    {lit([ascii_name(n) for n in first_flat])}[1 + fi]
    || {lit([".", ".", "_", ""])}[1 + ov_n('email_sep', i, 4)]
    || {lit([ascii_name(n) for n in last_flat])}[1 + ni]
    || i::VARCHAR || '@' || {lit(EMAIL_DOMAINS)}[1 + ov_n('email_domain', i, {len(EMAIL_DOMAINS)})];
CREATE OR REPLACE TEMP MACRO ov_country(ci) AS {lit([c.country for c in CITIES])}[1 + ci];
CREATE OR REPLACE TEMP MACRO ov_city(ci) AS {lit([c.name for c in CITIES])}[1 + ci];
CREATE OR REPLACE TEMP MACRO ov_timezone(ci) AS {lit([c.timezone for c in CITIES])}[1 + ci];
CREATE OR REPLACE TEMP MACRO ov_phone_prefix(ci) AS {lit([c.phone_prefix for c in CITIES])}[1 + ci];
CREATE OR REPLACE TEMP MACRO ov_phone_digits(ci) AS {lit([c.phone_digits for c in CITIES])}[1 + ci];
CREATE OR REPLACE TEMP MACRO ov_first_store(ci) AS {lit(first_store)}[1 + ci];
CREATE OR REPLACE TEMP MACRO ov_city_stores(ci) AS {lit([c.stores for c in CITIES])}[1 + ci];
CREATE OR REPLACE TEMP MACRO ov_language(li) AS {lit(LANGUAGES)}[1 + li];

-- products: everything a function of product_id
CREATE OR REPLACE TEMP MACRO ov_category_idx(p) AS
    {lit(slots(CATEGORY_WEIGHTS))}[1 + ov_n('category', p, 100)];
-- prices in cents: min + (max - min) * u^2, ending in .99, .50 or .00
CREATE OR REPLACE TEMP MACRO ov_price_cents(p) AS CAST(
    100 * floor({lit([CATEGORIES[c][1] for c in categories])}[1 + ov_category_idx(p)]
                + {lit([CATEGORIES[c][2] - CATEGORIES[c][1] for c in categories])}
                  [1 + ov_category_idx(p)] * pow(ov_u('price', p), 2))
    + {lit([99, 99, 50, 0])}[1 + ov_n('cents', p, 4)] AS BIGINT);
"""


def ids_sql(customers: int) -> str:
    """The customer ids as a temporary table: a table scan runs on every core, range()
    on one."""
    n = _check_int("customers", customers, 1)
    return f"CREATE OR REPLACE TEMP TABLE ov_ids AS SELECT range AS i FROM range(1, {n + 1})"


def customers_sql(customers: int, reference_date: date) -> str:
    """The customers, from the ids of `ov_ids` (see ids_sql)."""
    n = _check_int("customers", customers, 1)
    ref = f"DATE '{reference_date.isoformat()}'"
    tier_slots = slots([share for _, share, _ in TIERS])
    return f"""
WITH geo AS (
    SELECT i AS customer_id, ov_city_idx(i) AS ci, ov_gender_idx(i) AS gi,
           -- another customer of the same household (a close id), who may share an address
           CASE WHEN i > 50 THEN i - 1 - ov_n('dup_of', i, 50)
                ELSE least(i + 1 + ov_n('dup_of', i, 50), {n}) END AS dup_of
    FROM ov_ids AS t(i)
), lang AS (
    SELECT *, ov_lang_idx(ci, customer_id) AS li,
           ov_lang_idx(ov_city_idx(dup_of), dup_of) AS dup_li
    FROM geo
), base AS (
    SELECT *,
           ov_first_idx(li, gi, customer_id) AS fi,
           ov_last_idx(li, customer_id) AS ni,
           -- 1% no address, 2% the household's address as is, 1% the household's address
           -- typed differently (case, spaces), the rest their own
           ov_n('email_kind', customer_id, 1000) AS email_kind,
           -- age drawn first (18..80, younger more likely), then a birthday in that year
           {ref} - CAST(floor((18 + 62 * pow(ov_u('age', customer_id), 1.35)) * 365.25)
                        AS INTEGER)
               - CAST(ov_n('birthday', customer_id, 365) AS INTEGER) AS birth_date,
           ov_u('signup', customer_id) AS signup_draw,
           ov_u('last_seen', customer_id) AS last_seen_draw,
           ov_n('push_token_null', customer_id, 100) < 40 AS no_push_token
    FROM lang
), addressed AS (
    -- whose address the customer uses: list lookups run unconditionally (DuckDB
    -- evaluates a list literal inside a CASE branch row by row, which is slow)
    SELECT *,
           email_kind >= 10 AND email_kind < 40 AND dup_of <> customer_id AS shared_email,
           CASE WHEN shared_email THEN dup_of ELSE customer_id END AS email_owner,
           CASE WHEN shared_email
                THEN ov_first_idx(dup_li, ov_gender_idx(dup_of), dup_of) ELSE fi END AS email_fi,
           CASE WHEN shared_email THEN ov_last_idx(dup_li, dup_of) ELSE ni END AS email_ni
    FROM base
), shaped AS (
    SELECT *,
           ov_own_email(email_owner, email_fi, email_ni) AS owner_email,
           date_sub('year', birth_date, {ref})::INTEGER AS age,
           -- signed up over the last 8 years (recent more likely), at 16 or older,
           -- at least a day before the reference date
           {ref} - 1 - CAST(least(floor(2919 * pow(signup_draw, 1.4)),
                                  greatest(0, ({ref} - birth_date) - 5844)) AS INTEGER)
               AS signup_date
    FROM addressed
)
SELECT
    customer_id,
    ov_first_name(fi) AS first_name,
    ov_last_name(ni) AS last_name,
    CASE
        WHEN email_kind < 10 THEN NULL
        WHEN email_kind < 30 OR NOT shared_email THEN owner_email
        ELSE {lit(["", " ", ""])}[1 + ov_n('email_ws', customer_id, 3)]
             || CASE ov_n('email_case', customer_id, 3)
                    WHEN 0 THEN upper(owner_email)
                    WHEN 1 THEN upper(owner_email[1]) || owner_email[2:]
                    ELSE owner_email END
             || {lit([" ", "", "  "])}[1 + ov_n('email_ws2', customer_id, 3)]
    END AS email,
    CASE WHEN ov_n('phone_null', customer_id, 100) < 15 THEN NULL
         ELSE ov_phone_prefix(ci) || lpad((ov_h('phone', customer_id)
                  % (10 ** ov_phone_digits(ci))::UBIGINT)::VARCHAR, ov_phone_digits(ci), '0')
    END AS phone,
    ov_country(ci) AS country,
    ov_city(ci) AS city,
    ov_timezone(ci) AS timezone,
    ov_language(li) AS language,
    birth_date,
    age,
    {lit(["female", "male", "unspecified"])}[1 + gi] AS gender,
    {lit([t for t, _, _ in TIERS])}[1 + {lit(tier_slots)}[1 + ov_n('tier', customer_id, 100)]]
        AS loyalty_tier,
    signup_date,
    ov_n('email_optin', customer_id, 100) < 68 AS email_optin,
    ov_n('sms_optin', customer_id, 100) < 34 AS sms_optin,
    ov_n('push_optin', customer_id, 100) < CASE WHEN no_push_token THEN 3 ELSE 72 END
        AS push_optin,
    CASE WHEN no_push_token THEN NULL
         ELSE 'ExponentPushToken[' || lpad(to_hex(ov_h('push_token', customer_id)), 16, '0')
              || lpad(to_hex(ov_h('push_token_2', customer_id) >> 24), 10, '0') || ']'
    END AS push_token,
    CASE WHEN ov_n('store_null', customer_id, 100) < 22 THEN NULL
         ELSE ov_first_store(ci) + ov_n('store', customer_id, ov_city_stores(ci)) END
        AS store_id,
    -- last seen within a year (never before signup), recent more likely; second precision
    CAST({ref} AS TIMESTAMP) - to_seconds(1 + CAST(least(
        floor(pow(last_seen_draw, 2.5) * 365 * 86400),
        ({ref} - signup_date) * 86400 - 1) AS BIGINT)) AS last_seen_at
FROM shaped
"""


def purchase_counts_sql(purchases_per_customer: float) -> str:
    """How many purchases each buyer makes and the id of their first one, from `customers`.

    Materialised (as `ov_purchase_counts`) before purchases_sql: the running sum is one
    ordered window, and scanning its result as a table spreads the expansion over every
    core.
    """
    if not purchases_per_customer > 0:
        raise ValueError("purchases per customer must be > 0")
    tier_cases = " ".join(f"WHEN {lit(t)} THEN {f}" for t, _, f in TIERS)
    mean_factor = sum(share * factor for _, share, factor in TIERS) / 100
    buyer_mean = purchases_per_customer / (1 - NON_BUYERS) / mean_factor
    return f"""
WITH counts AS (
    SELECT customer_id, store_id AS home_store, signup_date,
           CASE WHEN ov_u('buyer', customer_id) < {NON_BUYERS} THEN 0 ELSE
               -- geometric with the tier's mean (>= 1), capped
               least(500, 1 + CAST(floor(ln(1 - ov_u('n_purchases', customer_id))
                   / ln(1 - 1 / greatest(1.0001, {buyer_mean}
                                        * CASE loyalty_tier {tier_cases} END)))
                   AS BIGINT)) END AS n
    FROM customers
)
SELECT *, CAST(sum(n) OVER (ORDER BY customer_id ROWS UNBOUNDED PRECEDING) - n AS BIGINT)
          AS first_id
FROM counts WHERE n > 0
"""


def purchases_sql(reference_date: date, counts: str = "ov_purchase_counts") -> str:
    """The purchases, from `counts`: the table `ov_purchase_counts`, or purchase_counts_sql
    as a subquery (one pipeline: slower on many cores, but its Parquet row groups, hence
    its bytes, are the same from run to run)."""
    ref = f"DATE '{reference_date.isoformat()}'"
    n_stores = len(store_rows())
    return f"""
WITH expanded AS (
    SELECT customer_id, home_store, signup_date,
           CAST(first_id + 1 + unnest(range(n)) AS BIGINT) AS purchase_id
    FROM {counts}
), drawn AS (
    SELECT *,
           1 + CAST(floor({PRODUCTS} * pow(ov_u('product', purchase_id), 2.2)) AS BIGINT)
               AS product_id,
           ov_n('channel', purchase_id, 100) AS channel_draw,
           ov_n('quantity', purchase_id, 100) AS quantity_draw,
           ov_n('discount', purchase_id, 100) AS discount_draw
    FROM expanded
)
SELECT
    purchase_id,
    customer_id,
    product_id,
    CASE WHEN channel = 'store' THEN
        CASE WHEN home_store IS NOT NULL AND ov_n('own_store', purchase_id, 100) < 85
             THEN home_store
             ELSE 1 + ov_n('any_store', purchase_id, {n_stores}) END
    END AS store_id,
    -- the two years before the reference date (never before signup), recent more likely;
    -- millisecond precision, always strictly before the reference date
    make_timestamp(epoch_us(CAST({ref} AS TIMESTAMP)) - 1000 * (1 + CAST(floor(
        pow(ov_u('purchased_at', purchase_id), 1.6)
        * least(730, greatest(1, {ref} - signup_date)) * 86400000) AS BIGINT)))
        AS purchased_at,
    CAST(quantity AS INTEGER) AS quantity,
    -- price x quantity, less a 10% or 25% discount on some purchases, to the cent
    CAST(round(getvariable('ov_price_cents')[product_id] * quantity
               * {lit([100, 90, 75])}[1 + (discount_draw >= 70)::INT + (discount_draw >= 90)::INT]
               / 100.0) / 100 AS DECIMAL(10, 2)) AS amount,
    channel
FROM (
    SELECT *,
           CASE WHEN quantity_draw < 70 THEN 1 WHEN quantity_draw < 90 THEN 2
                ELSE 3 + ov_n('quantity_more', purchase_id, 3) END AS quantity,
           CASE WHEN home_store IS NOT NULL THEN
                    CASE WHEN channel_draw < 55 THEN 'store' WHEN channel_draw < 85 THEN 'web'
                         ELSE 'app' END
                ELSE CASE WHEN channel_draw < 10 THEN 'store' WHEN channel_draw < 65 THEN 'web'
                          ELSE 'app' END
           END AS channel
    FROM drawn
)
"""


def products_sql() -> str:
    categories = list(CATEGORIES)
    return f"""
SELECT
    p AS product_id,
    {lit(BRANDS)}[1 + ov_n('brand', p, {len(BRANDS)})] || ' '
        || {lit([CATEGORIES[c][0] for c in categories])}[1 + ov_category_idx(p)]
               [1 + ov_n('noun', p, {lit([len(CATEGORIES[c][0]) for c in categories])}
                                     [1 + ov_category_idx(p)])]
        || ' ' || {lit(COLOURS)}[1 + ov_n('colour', p, {len(COLOURS)})] AS name,
    {lit(categories)}[1 + ov_category_idx(p)] AS category,
    {lit(BRANDS)}[1 + ov_n('brand', p, {len(BRANDS)})] AS brand,
    CAST(ov_price_cents(p) / 100 AS DECIMAL(10, 2)) AS price
FROM range(1, {PRODUCTS + 1}) AS t(p)
"""


def stores_sql() -> str:
    values = ",\n    ".join(
        f"({sid}, {lit(name)}, {lit(country)}, {lit(city)}, {lit(region)})"
        for sid, name, country, city, region, _ in store_rows()
    )
    return f"""
SELECT CAST(store_id AS BIGINT) AS store_id, name, country, city, region FROM (VALUES
    {values}
) AS t(store_id, name, country, city, region)
ORDER BY store_id

"""


def _prepare(con: duckdb.DuckDBPyConnection, seed: int, threads: int | None) -> None:
    if threads:
        con.execute(f"SET threads = {_check_int('threads', threads, 1)}")
    # rows keep the order of the ids: the files are byte-identical from run to run
    con.execute("SET preserve_insertion_order = true")
    con.execute(macros_sql(seed))
    # the 2,000 prices as one constant list: a lookup per purchase, no join (joins would
    # reorder the rows) and no recomputation
    con.execute("SET VARIABLE ov_price_cents = "
                f"(SELECT list(ov_price_cents(p) ORDER BY p) FROM range(1, {PRODUCTS + 1}) t(p))")


def _count(con: duckdb.DuckDBPyConnection, relation: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {relation}").fetchone()
    return int(row[0]) if row else 0


def create_tables(
    con: duckdb.DuckDBPyConnection,
    customers: int,
    *,
    seed: int = DEFAULT_SEED,
    reference_date: date = DEFAULT_REFERENCE_DATE,
    purchases_per_customer: float = 5.0,
    threads: int | None = None,
) -> dict[str, int]:
    """Create (or replace) the four tables in `con`'s current schema; return row counts."""
    purchase_counts = purchase_counts_sql(purchases_per_customer)  # checks the argument
    _prepare(con, seed, threads)
    con.execute(f"CREATE OR REPLACE TABLE stores AS {stores_sql()}")
    con.execute(f"CREATE OR REPLACE TABLE products AS {products_sql()}")
    con.execute(ids_sql(customers))
    con.execute(f"CREATE OR REPLACE TABLE customers AS {customers_sql(customers, reference_date)}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE ov_purchase_counts AS {purchase_counts}")
    con.execute(f"CREATE OR REPLACE TABLE purchases AS {purchases_sql(reference_date)}")
    con.execute("DROP TABLE ov_ids; DROP TABLE ov_purchase_counts")
    return {table: _count(con, table) for table in TABLES}


def generate(
    out_dir: Path,
    customers: int,
    *,
    seed: int = DEFAULT_SEED,
    reference_date: date = DEFAULT_REFERENCE_DATE,
    fmt: str = "parquet",
    purchases_per_customer: float = 5.0,
    threads: int | None = None,
) -> dict[str, int]:
    """Generate the data set and write OUT_DIR/TABLE.FORMAT, rows in key order.

    The queries stream straight into the files (no table in between); purchases read
    back the few customer columns they depend on from the customers file.
    """
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"format must be parquet or csv, not {fmt!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    options = ("FORMAT parquet" if fmt == "parquet"
               else "FORMAT csv, HEADER true, TIMESTAMPFORMAT '%Y-%m-%d %H:%M:%S.%g'")
    reader = "read_parquet" if fmt == "parquet" else "read_csv"
    con = duckdb.connect(":memory:")
    try:
        purchase_counts = purchase_counts_sql(purchases_per_customer)  # checks the argument
        _prepare(con, seed, threads)
        con.execute(ids_sql(customers))
        queries = {
            "stores": stores_sql(),
            "products": products_sql(),
            "customers": customers_sql(customers, reference_date),
            "purchases": purchases_sql(reference_date, f"({purchase_counts}) AS c"),
        }
        counts = {}
        for table in ("stores", "products", "customers", "purchases"):
            path = str(out_dir / f"{table}.{fmt}").replace("'", "''")
            con.execute(f"COPY ({queries[table]}) TO '{path}' ({options})")
            con.execute(f"CREATE OR REPLACE TEMP VIEW {table} AS SELECT * FROM {reader}('{path}')")
            counts[table] = _count(con, table)
        return {table: counts[table] for table in TABLES}
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Generate Overture's sample retail data set (customers, purchases, "
                    "products, stores) inside DuckDB.")
    parser.add_argument("out_dir", type=Path, help="folder for the table files")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--reference-date", type=date.fromisoformat,
                        default=DEFAULT_REFERENCE_DATE,
                        help="all dates are relative to this day (default 2027-03-01)")
    parser.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    parser.add_argument("--purchases-per-customer", type=float, default=5.0)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        counts = generate(args.out_dir, args.customers, seed=args.seed,
                          reference_date=args.reference_date, fmt=args.format,
                          purchases_per_customer=args.purchases_per_customer)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - started
    for table, count in counts.items():
        print(f"{table:<10} {count:>12,} rows  {args.out_dir / (table + '.' + args.format)}")
    print(f"generated in {elapsed:.1f} s (seed {args.seed}, reference date "
          f"{args.reference_date.isoformat()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
