"""Overture's demo: a retail workspace with sample data and campaigns, run in test mode.

    python examples/demo.py --dir demo --customers 100000

1. creates the workspace in --dir (`overture init`) unless it exists;
2. generates the sample retail data set (examples/generate.py) into DIR/data/;
3. copies schema.yaml, the campaigns (with their templates and files) and the saved
   filters into the workspace;
4. loads the four tables (`overture data load TABLE FILE --key COL`) and checks
   schema.yaml against them (`overture data check`);
5. runs each sample campaign in test mode (`overture run FILE --test`), live on screen:
   nothing is sent. Between the vip-buyers and trade-fair campaigns it saves the
   population that reached `save_vips` as the audience `vip_buyers`
   (`overture audiences save`), since save_audience writes nothing in test mode;
6. prints what to try next;
7. with --serve: records the sample campaigns as drafts in the control plane
   (`overture campaign create`) and starts the server (`overture serve`) in the
   foreground, until Ctrl-C.

Re-running reuses the data and the loaded tables when --customers and --seed have
not changed. Every step is a subprocess of the `overture` command installed beside this
Python, so what you see is exactly what you would type.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
#: the logical clock of every demo run: the data set's reference date, 09:00 in Paris
CLOCK = "2027-03-01T09:00:00+01:00"
#: campaigns in the order they run (trade-fair reads the audience vip-buyers feeds)
CAMPAIGNS = ["spring-sale", "vip-buyers", "trade-fair", "newsletter"]
LOAD_ORDER = ["stores", "products", "customers", "purchases"]
AUDIENCE = ("vip_buyers", "vip-buyers", "save_vips.out")


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("overture_examples_generate",
                                                  HERE / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def overture_command() -> list[str]:
    """The `overture` console script of this Python's environment."""
    script = Path(sys.executable).parent / ("overture.exe" if os.name == "nt" else "overture")
    if script.exists():
        return [str(script)]
    found = shutil.which("overture")
    if found:
        return [found]
    sys.exit("error: the `overture` command is not installed next to this Python; "
             "run `make install` (or `pip install -e .`) first")


class Demo:
    def __init__(self, directory: Path, customers: int, seed: int) -> None:
        self.dir = directory.resolve()
        self.customers = customers
        self.seed = seed
        self.overture = overture_command()
        self.data_dir = self.dir / "data"
        self.marker = {"customers": customers, "seed": seed, "format": "parquet",
                       "reference_date": "2027-03-01"}

    # ---- helpers ----
    def title(self, text: str) -> None:
        print(f"\n\033[1m== {text}\033[0m" if sys.stdout.isatty() else f"\n== {text}",
              flush=True)

    def run(self, *args: str, capture: bool = False, check: bool = True
            ) -> subprocess.CompletedProcess[str]:
        command = [*self.overture, *args]
        print("$ overture " + " ".join(args), flush=True)
        result = subprocess.run(command, cwd=self.dir, text=True,
                                capture_output=capture, check=False)
        if check and result.returncode != 0:
            if capture:
                sys.stdout.write(result.stdout)
                sys.stderr.write(result.stderr)
            sys.exit(f"error: `overture {' '.join(args)}` failed (exit {result.returncode})")
        return result

    def _read_json(self, path: Path) -> Any:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    # ---- steps ----
    def workspace(self) -> None:
        self.title("Workspace")
        if (self.dir / "overture.toml").exists():
            print(f"using the workspace in {self.dir}")
            return
        self.dir.parent.mkdir(parents=True, exist_ok=True)
        result = subprocess.run([*self.overture, "init", str(self.dir)], text=True, check=False)
        if result.returncode != 0:
            sys.exit("error: `overture init` failed")

    def data(self) -> None:
        self.title(f"Sample data: {self.customers:,} customers (seed {self.seed})")
        marker = self.data_dir / "generated.json"
        files = [self.data_dir / f"{t}.parquet" for t in LOAD_ORDER]
        if self._read_json(marker) == self.marker and all(f.exists() for f in files):
            print(f"reusing {self.data_dir} (delete it to generate again)")
            return
        generator = load_generator()
        started = time.perf_counter()
        counts = generator.generate(self.data_dir, self.customers, seed=self.seed)
        for table, count in counts.items():
            print(f"  {table:<10} {count:>12,} rows")
        print(f"generated in {time.perf_counter() - started:.1f} s into {self.data_dir}")
        marker.write_text(json.dumps(self.marker), encoding="utf-8")

    def files(self) -> None:
        self.title("Schema, campaigns and filters")
        shutil.copyfile(HERE / "schema.yaml", self.dir / "schema.yaml")
        shutil.copytree(HERE / "campaigns", self.dir / "campaigns", dirs_exist_ok=True)
        shutil.copytree(HERE / "filters", self.dir / "filters", dirs_exist_ok=True)
        for path in sorted((self.dir / "campaigns").glob("*.yaml")):
            print(f"  campaigns/{path.name}")
        for path in sorted((self.dir / "filters").glob("*.yaml")):
            print(f"  filters/{path.name}")

    def load(self) -> None:
        self.title("Loading the tables")
        marker = self.dir / ".overture" / "demo-loaded.json"
        if self._read_json(marker) == self.marker:
            print("tables already loaded from this data (delete .overture/demo-loaded.json "
                  "to load again)")
        else:
            marker.unlink(missing_ok=True)
            generator = load_generator()
            for table in LOAD_ORDER:
                self.run("data", "load", table, f"data/{table}.parquet",
                         "--key", generator.KEYS[table])
            marker.write_text(json.dumps(self.marker), encoding="utf-8")
        self.run("data", "check")

    def campaign(self, name: str) -> None:
        self.title(f"Campaign {name} (test mode: nothing is sent)")
        path = f"campaigns/{name}.yaml"
        self.run("campaign", "validate", path)
        self.run("run", path, "--test", "--clock", CLOCK)

    def latest_run(self, campaign: str) -> dict[str, Any] | None:
        result = self.run("runs", "list", "--campaign", campaign, "--limit", "1", "--json",
                          capture=True)
        runs = json.loads(result.stdout or "[]")
        return runs[0] if runs else None

    def save_audience(self) -> None:
        name, campaign, port = AUDIENCE
        self.title(f"Audience {name}")
        run = self.latest_run(campaign)
        if not run:
            sys.exit(f"error: no run of {campaign} to save {name} from")
        print(f"save_audience writes nothing in test mode: saving what reached {port} in "
              f"run {run['run']} instead")
        self.run("audiences", "save", name, run["run"], port)

    def next_steps(self) -> None:
        self.title("What to try next")
        ws = self.dir
        print(f"""\
cd {ws}
overture data tables                                   # what was loaded
overture data show customers                           # columns, types, roles
overture runs list                                     # the runs you just made
overture runs show RUN                                 # every transition's count
overture runs preview RUN tiers.vip                    # who would get the VIP email
overture rule sql campaigns/spring-sale.yaml buyers    # the SQL behind an audience
overture rule count campaigns/spring-sale.yaml buyers --clock {CLOCK}
overture audiences list
overture run campaigns/spring-sale.yaml --test --clock {CLOCK} --var min_spend=500
overture run campaigns/newsletter.yaml --live          # sends, to the local outbox only
overture outbox list                                   # what was "sent"

Edit campaigns/*.yaml (or filters/recent_buyers.yaml) and run them again: the
data stays loaded. docs/examples.md describes the data and every campaign.""")

    def drafts(self) -> None:
        self.title("Campaigns as drafts, for the server")
        for name in sorted(p.stem for p in (self.dir / "campaigns").glob("*.yaml")):
            result = self.run("campaign", "create", f"campaigns/{name}.yaml", check=False,
                              capture=True)
            if result.returncode == 0:
                print(f"  draft {name} created")
            elif "exists already" in (result.stderr + result.stdout):
                print(f"  draft {name} exists already")
            else:
                sys.stdout.write(result.stdout)
                sys.stderr.write(result.stderr)
                sys.exit(f"error: `overture campaign create campaigns/{name}.yaml` failed")

    def serve(self, port: int) -> None:
        self.title(f"The server: http://127.0.0.1:{port} (Ctrl-C stops it)")
        # A demo workspace's admin gets a fresh password at each start, printed here, so
        # the web app can be opened without hunting for the one `overture init` printed.
        result = self.run("users", "password", "admin", check=False, capture=True)
        sys.stdout.write(result.stdout)
        if result.returncode != 0:
            sys.stderr.write(result.stderr)
        print(f"Open http://127.0.0.1:{port}/ and log in as admin with the password above.\n"
              f"API docs: http://127.0.0.1:{port}/api/docs · a token for scripts: "
              "`overture users token admin`", flush=True)
        os.chdir(self.dir)
        os.execv(self.overture[0], [*self.overture, "serve", "--port", str(port)])

    def main(self, setup_only: bool = False, serve: bool = False, port: int = 8000) -> None:
        self.workspace()
        self.data()
        self.files()
        self.load()
        if setup_only:
            print(f"\nworkspace ready in {self.dir}; run the campaigns with "
                  f"`overture run campaigns/NAME.yaml --test --clock {CLOCK}`")
            if serve:
                self.drafts()
                self.serve(port)
            return
        for name in CAMPAIGNS:
            if name == "trade-fair":
                self.save_audience()
            self.campaign(name)
        self.next_steps()
        if serve:
            self.drafts()
            self.serve(port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Create a demo workspace with the sample retail data and campaigns, and "
                    "run the campaigns in test mode.")
    parser.add_argument("--dir", type=Path, default=Path("demo"),
                        help="workspace folder (created if absent; default ./demo)")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--setup-only", action="store_true",
                        help="prepare the workspace (data, files, tables) without running "
                             "the campaigns")
    parser.add_argument("--serve", action="store_true",
                        help="then record the campaigns as drafts and start `overture serve`")
    parser.add_argument("--port", type=int, default=8000, help="the server's port")
    args = parser.parse_args(argv)
    if args.customers < 2000:
        parser.error("--customers must be at least 2000 (the trade-fair file names customers "
                     "up to id 2000)")
    Demo(args.dir, args.customers, args.seed).main(setup_only=args.setup_only,
                                                   serve=args.serve, port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
