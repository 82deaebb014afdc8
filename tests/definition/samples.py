"""Valid campaign documents for the tiny retail workspace (tests/support/workspace.py).

Shared by the schema, property and CLI tests; each validates with no problem.
"""

from __future__ import annotations

#: the example of spec §2, with its content inline
SPRING_SALE = """\
name: spring-sale
label: Spring sale
target: customers
timezone: Europe/Paris
schedule: {once: "2027-03-01T09:00"}
variables:
  coupon: {type: string, default: SPRING10, test_value: TEST10}
error_policy: {on_error: suspend}
activities:
  - id: buyers
    type: build_audience
    label: Recent buyers in France and Spain
    rule:
      all:
        - {field: country, op: in, value: [FR, ES]}
        - exists: {link: purchases, where: {field: purchased_at, op: in_last, value: 90 days}}
        - aggregate: {link: purchases, fn: sum, field: amount}
          op: gte
          value: 100
  - id: dedup
    type: deduplicate
    inputs: [buyers]
    keys: [email]
    keep: {method: expression, by: signup_date, order: desc}
  - id: tiers
    type: split
    inputs: [dedup]
    subsets:
      - {id: vip, rule: {field: loyalty_tier, op: eq, value: gold}}
      - {id: sample, limit: {percent: 10}, sort: {by: customer_id}}
    complement: true
  - id: vip_mail
    type: email
    inputs: [tiers.vip]
    from: "Shop <news@shop.example>"
    subject: "{{ first_name }}, your VIP preview"
    html: "<p>Hello {{ first_name }}, use ${vars.coupon}</p>"
canvas:
  positions: {buyers: [0, 0], dedup: [200, 0]}
  notes: [{text: "ask Ana about the sample", at: [10, 20]}]
"""

#: combine, enrich, split, fork, wait, test, and_join, alert, save_audience, end, channels
FLOW = """\
name: flow-tour
activities:
  - id: everyone
    type: build_audience
    rule: {not: {field: email, op: is_empty}}
  - id: gold
    type: build_audience
    rule:
      any:
        - {field: loyalty_tier, op: eq, value: gold}
        - {field: store.region, op: eq, value: north}
  - id: both
    type: combine
    operation: intersection
    inputs: [everyone, gold]
    complement: true
  - id: rest
    type: combine
    operation: exclusion
    inputs: [everyone, gold]
    primary: everyone
  - id: extra
    type: enrich
    inputs: [both]
    attributes: [first_name, store.region]
    aggregates:
      - {name: spent, link: purchases, fn: sum, field: amount}
      - {name: orders, link: purchases, fn: count}
    collect:
      - {name: last, link: purchases, fields: [amount], count: 2,
         sort: {by: purchased_at, order: desc}}
  - id: big
    type: split
    inputs: [extra]
    subsets:
      - {id: spenders, rule: {field: spent, op: gte, value: 100}}
      - {id: named, rule: {field: work.first_name, op: starts_with, value: A}}
      - {id: lucky, limit: {count: 2}, random: {seed: 7}}
    complement: true
  - id: branches
    type: fork
    inputs: [big.spenders]
    branches: [now, later]
  - id: pause
    type: wait
    inputs: [branches.later]
    duration: 2 days
  - id: enough
    type: test
    inputs: [branches.now]
    conditions:
      - {id: many, count: {op: gte, value: 3}}
  - id: joined
    type: and_join
    inputs: [pause, enough.many]
    primary: pause
  - id: warn
    type: alert
    inputs: [enough.default]
    title: Too few spenders
  - id: keep
    type: save_audience
    inputs: [joined]
    audience: spenders
    attributes: [spent]
  - id: stop
    type: end
    inputs: [keep]
  - id: letters
    type: email
    inputs: [rest]
    subject: Hello
    text: "Dear {{ first_name }}"
    variants:
      - {id: short, weight: 2, subject: Hi}
      - {id: long, subject: Hello there}
  - id: texts
    type: sms
    inputs: [big.named]
    body: "Hi {{ first_name }}"
  - id: leftovers
    type: end
    inputs: [big.complement]
  - id: none_left
    type: end
    inputs: [both.complement]
  - id: unlucky
    type: end
    inputs: [big.lucky]
"""

#: file rows reconciled with profiles, an incremental query, dates written unquoted
FILES = """\
name: files-and-dates
timezone: Europe/Paris
activities:
  - id: upload
    type: load_file
    path: contacts.csv
    columns: {points: int64}
  - id: matched
    type: reconcile
    inputs: [upload]
    match: {email: email}
    keep_unmatched: true
  - id: high
    type: split
    inputs: [matched]
    subsets:
      - {id: many_points, rule: {field: points, op: gt, value: 5}}
  - id: recent
    type: incremental_query
    mode: date_field
    field: signup_date
    rule: {field: signup_date, op: between, value: [2020-01-01, 2026-12-31]}
  - id: later
    type: wait
    inputs: [recent]
    until: 2027-03-02T09:00:00
  - id: semi
    type: load_file
    path: semicolon.csv
    delimiter: ";"
  - id: last
    type: end
    inputs: [high.many_points]
  - id: lost
    type: end
    inputs: [matched.unmatched]
  - id: rejected
    type: end
    inputs: [upload.rejects]
  - id: done
    type: end
    inputs: [later]
  - id: semi_done
    type: end
    inputs: [semi]
"""

#: saved filters, a target through a link, dedup methods
MISC = """\
name: misc
variables:
  min_age: {type: integer, default: 30}
activities:
  - id: french
    type: build_audience
    rule:
      all:
        - {filter: french}
        - {field: age, op: gte, value: "${vars.min_age}"}
        - {field: email, op: like, value: "%@example.com"}
        - {field: signup_date, op: not_in_last, value: 12 hours}
  - id: unique
    type: deduplicate
    inputs: [french]
    keys: [email]
    normalize: lower_trim
    keep: {method: priority, by: loyalty_tier, values: [gold, silver]}
    complement: true
  - id: their_stores
    type: change_dimension
    inputs: [unique]
    target: stores
    link: store
  - id: per_store
    type: end
    inputs: [their_stores]
  - id: dupes
    type: sms
    inputs: [unique.complement]
    body: hello
    category: transactional
    throttle: 5
  - id: weekly
    type: incremental_query
    mode: exclude_previous
    history_days: 30
  - id: stored
    type: read_audience
    audience: someone_elses
  - id: all_three
    type: combine
    operation: union
    inputs: [weekly, stored, unique]
  - id: stop
    type: end
    inputs: [all_three]
"""

VALID = {"spring_sale": SPRING_SALE, "flow": FLOW, "files": FILES, "misc": MISC}
