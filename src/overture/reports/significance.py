"""A/B tests: is a variant's click rate different from the first variant's?

A two-proportion z-test on aggregated counts (plain arithmetic: the counts come from
the engine, nothing here reads a row). Two-sided, pooled standard error; the normal
approximation holds when each group has at least `MIN_OUTCOMES` clicks and as many
non-clicks, which `enough_data` says.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: the p-value under which a difference is called significant
ALPHA = 0.05
#: clicks and non-clicks each group needs for the normal approximation (np >= 5)
MIN_OUTCOMES = 5


@dataclass(frozen=True)
class ZTest:
    z: float | None          # None when it cannot be computed (no trials, or no variance)
    p_value: float | None    # two-sided
    lift: float | None       # (rate - baseline rate) / baseline rate
    enough_data: bool

    @property
    def significant(self) -> bool:
        return self.p_value is not None and self.p_value < ALPHA and self.enough_data


def rate(successes: int, trials: int) -> float | None:
    return successes / trials if trials > 0 else None


def two_proportion_z(base_successes: int, base_trials: int, successes: int, trials: int
                     ) -> ZTest:
    """The z-test of `successes / trials` against `base_successes / base_trials`."""
    enough = all(n >= MIN_OUTCOMES for n in (base_successes, base_trials - base_successes,
                                             successes, trials - successes))
    base, other = rate(base_successes, base_trials), rate(successes, trials)
    lift = (other - base) / base if base and other is not None else None
    if base is None or other is None:
        return ZTest(None, None, lift, False)
    pooled = (base_successes + successes) / (base_trials + trials)
    variance = pooled * (1 - pooled) * (1 / base_trials + 1 / trials)
    if variance <= 0:  # nobody clicked, or everybody did, in both groups: no difference
        return ZTest(None, None, lift, enough)
    z = (other - base) / math.sqrt(variance)
    p_value = math.erfc(abs(z) / math.sqrt(2))
    return ZTest(z, p_value, lift, enough)
