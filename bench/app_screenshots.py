"""The README's pictures of ``al-bench-label``: setup, labeling and the progress view, taken in
Debian's Chromium (Playwright) on 1,000 CIFAR-subset PNGs labeled from the known answers.

    .venv/bin/python bench/app_screenshots.py [--out docs/app] [--batches 4]

The first batches are labeled through the app's API (POST /api/label, as the page does), the
pictures show the page as it then is.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from label_session import NAMES, SUBSET, Api, write_images  # noqa: E402


def main() -> None:
    from playwright.sync_api import expect, sync_playwright

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "app")
    ap.add_argument("--batches", type=int, default=4)
    ap.add_argument("--subset", type=Path, default=SUBSET)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="labshots-"))
    truth, _, _ = write_images(work / "images", 1000, args.subset)
    folder = work / "images" / "pool"
    srv = subprocess.Popen([str(Path(sys.executable).with_name("al-bench-label")), str(work / "project"), "--port", "0"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = srv.stdout.readline().strip().rsplit(" ", 1)[-1]
    api = Api(url)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 1150})
            page.goto(url)
            page.fill("#project-name", "CIFAR-10 sample")
            page.fill("#labels", "\n".join(NAMES))
            page.fill("#folder-path", str(folder))
            page.click("#add-folder")
            expect(page.locator("#sources")).to_contain_text("1000")
            page.screenshot(path=str(args.out / "setup.png"), full_page=True)
            page.click("#create-project")
            expect(page.locator("#labeling")).to_be_visible(timeout=60_000)
            for _ in range(args.batches):
                api.wait_idle()
                st = api.get("/api/state")
                for it in st["batch"]["items"]:
                    api.post("/api/label", {"item": it["id"], "label": truth[str(folder / it["name"])]})
                time.sleep(0.2)
            api.wait_idle()
            page.reload()
            expect(page.locator("#prediction .pred-row").first).to_be_visible(timeout=30_000)
            shown = str(folder / page.locator("#item-name").inner_text().strip())
            page.click(f'#label-buttons button[data-label="{truth[shown]}"]')
            page.screenshot(path=str(args.out / "labeling.png"))
            page.fill("#checkpoint-name", f"after {args.batches} batches")
            page.click("#save-checkpoint")
            page.click("#export-model")
            expect(page.locator("#exports li")).to_have_count(1)
            page.set_viewport_size({"width": 1400, "height": 2000})  # the whole side panel
            page.locator("#side").screenshot(path=str(args.out / "progress.png"))
            browser.close()
    finally:
        srv.terminate()
        srv.wait(30)
        shutil.rmtree(work, ignore_errors=True)
    print(f"wrote {', '.join(sorted(p.name for p in args.out.glob('*.png')))} to {args.out}")


if __name__ == "__main__":
    main()
