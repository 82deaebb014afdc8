"""The delivery benchmark runs end to end at a tiny size (its timings are never asserted).

Each phase must report as many messages as there are recipients, counted here from
the generated table with this file's own code, and the receiver must have counted
as many.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from support.retail import customers, emailable

ROOT = Path(__file__).resolve().parents[2]
#: the sms address check of spec §5 as the docs state it, written again here
PHONE_RE = re.compile(r"^\+?[0-9][0-9 ().-]{5,19}$")

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("bench")]


def textable(rows: list[dict[str, object]]) -> int:
    return sum(1 for row in rows
               if row["sms_optin"] is True and PHONE_RE.match(str(row["phone"] or "").strip()))


def data_rows(out: Path, size: int) -> list[dict[str, object]]:
    (workspace,) = [path.parent.parent for path in out.glob("c*/.overture/data.duckdb")
                    if path.parent.parent.name.startswith(f"c{size}-")]
    return customers(workspace)


def test_tiny_benchmark_runs_every_phase_and_prints_the_ratios(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "delivery.py"), "--tiny", "--out", str(tmp_path)],
        capture_output=True, text=True, check=False, timeout=600)
    output = result.stdout
    assert result.returncode == 0, output + result.stderr
    assert re.search(r"^ratio engine / raw smtplib at 300 customers: [\d.]+x ", output,
                     re.M), output
    assert re.search(r"^ratio engine / raw http.client at 300 customers: [\d.]+x", output,
                     re.M), output
    assert re.search(r"^peak RSS at 3,000 customers: [\d,]+ MB", output, re.M), output
    assert "every phase delivered each expected message once" in output

    (written,) = tmp_path.glob("delivery-*.json")
    figures = json.loads(written.read_text(encoding="utf-8"))
    phases = figures["phases"]
    assert list(phases) == ["engine email (smtp)", "raw smtplib loop", "engine SMS (http)",
                            "raw http.client loop", "engine email at 3,000"]

    small, big = data_rows(tmp_path, 300), data_rows(tmp_path, 3000)
    email, sms = len(emailable(small)), textable(small)
    assert email > 0 and sms > 0
    wanted = {"engine email (smtp)": email, "raw smtplib loop": email,
              "engine SMS (http)": sms, "raw http.client loop": sms,
              "engine email at 3,000": len(emailable(big))}
    for name, count in wanted.items():
        phase = phases[name]
        assert phase["messages"] == phase["expected"] == phase["received"] == count, name
        assert phase["seconds"] > 0 and phase["messages_per_second"] > 0, name
    for name in ("engine email (smtp)", "engine SMS (http)", "engine email at 3,000"):
        assert phases[name]["peak_rss_mb"] > 0
    assert figures["peak_rss_mb"] == phases["engine email at 3,000"]["peak_rss_mb"]
    assert figures["ratios"]["engine_over_raw_smtplib"] > 0
    assert figures["ratios"]["engine_over_raw_http"] > 0
    assert figures["problems"] == []
    # the phases' workspaces are not kept
    assert not (tmp_path / "delivery-work").exists()
