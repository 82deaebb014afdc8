"""Schedules (spec §7): when a campaign starts by itself.

`parse_schedule` reads a document's `schedule:` mapping into a `Schedule`, whose
`starts`, `next_start`, `latest_due` and `ended` answer in the campaign's time
zone; `schedule_problems` lists what is wrong with one, for validation. Pure
functions of their arguments: no clock, no I/O.
"""

from overture.schedules.model import Schedule, ScheduleError
from overture.schedules.parse import parse_schedule, schedule_problems

__all__ = ["Schedule", "ScheduleError", "parse_schedule", "schedule_problems"]
