"""Screenshot a run's report.html with headless Chromium, to check the layout by eye.

    .venv/bin/python scripts/screenshot_report.py RUN_DIR [--out PNG] [--width 1280] [--height 2400]

Prints the PNG's path. Needs a Chromium binary (Debian: `apt-get install chromium`).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def screenshot(run_dir: Path, out: Path, width: int, height: int) -> Path:
    report = run_dir.resolve() / "report.html"
    if not report.is_file():
        sys.exit(f"No report.html in {run_dir}: write one with `rag eval --out {run_dir}` first.")
    browser = next((path for name in BROWSERS if (path := shutil.which(name))), None)
    if browser is None:
        sys.exit("No Chromium found: install it (Debian: `apt-get install -y chromium`).")
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", f"--screenshot={out.resolve()}", f"--window-size={width},{height}",
           report.as_uri()]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    if not out.is_file():
        sys.exit(f"Chromium ran but wrote no screenshot to {out}.")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="directory holding report.html")
    parser.add_argument("--out", type=Path, help="PNG to write (default: RUN_DIR/report.png)")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=2400, help="page height captured, in pixels")
    args = parser.parse_args()
    print(screenshot(args.run_dir, args.out or args.run_dir / "report.png", args.width, args.height))


if __name__ == "__main__":
    main()
