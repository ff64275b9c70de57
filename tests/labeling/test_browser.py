"""The app end to end in a real browser: Playwright driving Debian's Chromium against the real
``al-bench-label`` command on a folder of CIFAR-subset PNGs.

Skipped when Chromium is missing, except under ``AL_BENCH_REQUIRE_BROWSER=1`` (CI), where that
fails. Screenshots go to the test's folder, and to ``$AL_BENCH_SCREENSHOTS`` when set (the
README's pictures come from there)."""

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SUBSET = ROOT.parent / "shared" / "datasets" / "cifar10_subset.npz"
NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
BATCH = 6


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("AL_BENCH_REQUIRE_BROWSER") == "1":
            pytest.fail("Chromium is not installed (apt-get install -y chromium)")
        pytest.skip("Chromium is not installed (apt-get install -y chromium)")
    return path


def start_server(project: Path) -> tuple[subprocess.Popen, str]:
    exe = Path(sys.executable).with_name("al-bench-label")
    proc = subprocess.Popen([str(exe), str(project), "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    line = proc.stdout.readline()
    m = re.search(r"(http://127\.0\.0\.1:\d+)", line)
    assert m, line + proc.stdout.read()
    return proc, m.group(1)


@pytest.fixture
def cifar_folder(tmp_path):
    from PIL import Image

    z = np.load(SUBSET)
    rows = np.flatnonzero(~z["is_test"])[:60]
    d = tmp_path / "my photos"
    d.mkdir()
    truth = {}
    for i in rows:
        name = f"img {i:04d}.png"
        Image.fromarray(z["images"][i]).save(d / name)
        truth[name] = NAMES[z["labels"][i]]
    return d, truth


def test_label_two_batches_checkpoint_export_and_survive_a_kill(tmp_path, cifar_folder):
    from playwright.sync_api import expect, sync_playwright

    from al_bench.labeling import LabelingProject, load_model

    exe = chromium()
    folder, truth = cifar_folder
    shots = [tmp_path / "shots"] + ([Path(os.environ["AL_BENCH_SCREENSHOTS"])]
                                    if os.environ.get("AL_BENCH_SCREENSHOTS") else [])
    for s in shots:
        s.mkdir(parents=True, exist_ok=True)
    project_dir = tmp_path / "project"
    server, url = start_server(project_dir)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))

        def shot(name):
            for s in shots:
                page.screenshot(path=str(s / f"{name}.png"), full_page=True)

        def progress(text, timeout=120_000):
            expect(page.locator("#batch-progress")).to_have_text(re.compile(rf"^\s*{re.escape(text)}\s*$"),
                                                                timeout=timeout)

        def current_truth():
            return truth[page.locator("#item-name").inner_text().strip()]

        try:
            # setup: labels typed (no "add" click), a folder on this machine
            page.goto(url)
            expect(page.locator("#setup")).to_be_visible()
            page.fill("#project-name", "cifar <demo>")
            page.click("#labels")
            page.keyboard.type(", ".join(NAMES[:5]) + "\n" + "\n".join(NAMES[5:]))
            page.fill("#folder-path", str(folder))
            page.click("#add-folder")
            expect(page.locator("#sources")).to_contain_text(str(folder))
            page.fill("#batch-size", str(BATCH))
            shot("setup")
            page.click("#create-project")
            expect(page.locator("#labeling")).to_be_visible(timeout=30_000)
            progress(f"0 / {BATCH}")
            expect(page.locator("#label-buttons button[data-label]")).to_have_count(10)
            expect(page.locator("#prediction")).to_contain_text("no model")

            # batch 1 by mouse
            for k in range(BATCH):
                page.click(f'#label-buttons button[data-label="{current_truth()}"]')
                page.click("#submit-label")
                if k < BATCH - 1:
                    progress(f"{k + 1} / {BATCH}")
            expect(page.locator("#job")).to_have_attribute("data-state", "idle", timeout=120_000)
            progress(f"0 / {BATCH}")
            expect(page.locator("#labeled-count")).to_have_text(str(BATCH))
            rows = page.locator("#prediction .pred-row")
            expect(rows.first).to_be_visible(timeout=30_000)
            probe = LabelingProject.open(project_dir).items[0]
            probe_id = LabelingProject.open(project_dir).item_ids([probe])[0]
            before = page.request.get(f"{url}/api/predict/{probe_id}").json()
            assert before["model_round"] == 1 and before["top"]
            shot("labeling")

            # batch 2 by keyboard: 1-9, 0 for the tenth, Enter; one undo on the way
            for k in range(BATCH):
                key = str((NAMES.index(current_truth()) + 1) % 10)
                page.keyboard.press(key)
                page.keyboard.press("Enter")
                if k == 0:
                    progress(f"1 / {BATCH}")
                    page.keyboard.press("Backspace")  # undo
                    progress(f"0 / {BATCH}")
                    page.keyboard.press(key)
                    page.keyboard.press("Enter")
                if k < BATCH - 1:
                    progress(f"{k + 1} / {BATCH}")
            expect(page.locator("#job")).to_have_attribute("data-state", "idle", timeout=120_000)
            expect(page.locator("#labeled-count")).to_have_text(str(2 * BATCH))
            progress(f"0 / {BATCH}")
            after = page.request.get(f"{url}/api/predict/{probe_id}").json()
            assert after["model_round"] == 2 and after["top"] != before["top"]  # retrained: predictions moved
            # round 1 (6 labels) has no estimate (fewer than 10), round 2 (12) has one
            expect(page.locator("#accuracy-plot circle")).to_have_count(1)
            # the estimate from the audited images (2 of each batch of 6 at the default share)
            expect(page.locator("#accuracy-plot")).to_contain_text("corrected by 4 audited images")
            expect(page.locator("#side")).to_contain_text("auto → typiclust")  # the default strategy's choice
            # round 2's model against round 1's on the stop set; the suggestion and its rules (no forecast yet)
            expect(page.locator("#stop-suggestion")).to_contain_text("Cohen's κ = ")
            expect(page.locator("#stop-suggestion .stop-head")).to_have_text("Suggestion: keep labeling.")
            expect(page.locator("#stop-suggestion .stop-rules li")).to_have_count(2)
            shot("progress")

            # checkpoint, one more label, restore
            page.fill("#checkpoint-name", "two batches")
            page.click("#save-checkpoint")
            expect(page.locator("#checkpoints button.restore")).to_have_count(1)
            page.click(f'#label-buttons button[data-label="{current_truth()}"]')
            page.click("#submit-label")
            progress(f"1 / {BATCH}")
            page.click('#checkpoints button.restore[data-name="two batches"]')
            progress(f"0 / {BATCH}")
            expect(page.locator("#labeled-count")).to_have_text(str(2 * BATCH))

            # export the model, download it, reload it: the same predictions as the app's
            page.click("#export-model")
            link = page.locator('#exports a[href^="/api/download/model-"]').first
            expect(link).to_be_visible()
            data = page.request.get(url + link.get_attribute("href")).body()
            (tmp_path / "model.pt").write_bytes(data)
            m = load_model(tmp_path / "model.pt")
            p = LabelingProject.open(project_dir)
            keys, x = p.features()
            probs = m.predict_proba(x[[keys.index(probe)]])[0]
            got = {t["label"]: t["p"] for t in after["top"]}
            assert all(abs(probs[NAMES.index(lab)] - v) < 1e-3 for lab, v in got.items())
            page.select_option("#export-format", "csv")
            page.click("#export-labels")
            expect(page.locator('#exports a[href^="/api/download/labels-"]')).to_have_count(1)

            # two labels, then kill -9 mid-batch; a new server reopens it where it was
            for k in range(2):
                page.click(f'#label-buttons button[data-label="{current_truth()}"]')
                page.click("#submit-label")
                progress(f"{k + 1} / {BATCH}")
            labeled = LabelingProject.open(project_dir).labels
            os.kill(server.pid, signal.SIGKILL)
            server.wait(10)
            server, url = start_server(project_dir)
            page.goto(url)
            progress(f"2 / {BATCH}", timeout=60_000)
            expect(page.locator("#labeled-count")).to_have_text(str(2 * BATCH + 2))
            assert LabelingProject.open(project_dir).labels == labeled
            assert not errors, errors
        finally:
            browser.close()
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
