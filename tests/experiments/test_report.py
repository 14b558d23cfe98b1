"""`experiments report`: one self-contained report.html (and report.md) per sweep, from fabricated runs (no training),
checked as files and in a real browser (headless Chromium, where installed)."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from matplotlib.image import imread

from ser_lightning.experiments.__main__ import main
from ser_lightning.experiments.collect import Cell
from ser_lightning.experiments.report import cell_text, write_report

from .studies import demo_pretrained_like, labelled_copy, real_urdu_like, write_claims

FAILED = "model=cnn_lstm,shots=k20,seed_everything=2"
PENDING = "model=whisper_tiny_en,shots=k20,seed_everything=2"
CLAIMS = [
    {"name": "pre-trained beats the CNN-LSTM", "better": {"model": "whisper_base"}, "worse": {"model": "cnn_lstm"}, "change": None,
     "better_value": 0.509, "worse_value": 0.407, "delta": 0.102, "low": 0.061, "high": 0.14, "p": 0.002, "p_holm": 0.008, "verdict": "holds"},
    {"name": "pre-training is key", "better": {"model": "whisper_base"}, "worse": {"model": "whisper_base_untrained"}, "change": None,
     "delta": 0.238, "low": 0.19, "high": 0.28, "p": 0.0001, "p_holm": 0.0004, "verdict": "holds"},
    {"name": "they gain more from few shots", "better": {"model": "whisper_base"}, "worse": {"model": "cnn_lstm"}, "change": {"shots": ["k0", "k20"]},
     "delta": 0.038, "low": -0.03, "high": 0.1, "p": 0.21, "p_holm": 0.42, "verdict": "inconclusive", "note": "4-8 set-aside URDU speakers"},
    {"name": "multilingual beats English-only", "better": {"model": "whisper_base"}, "worse": {"model": "whisper_tiny_en"}, "change": None,
     "delta": 0.001, "low": -0.04, "high": 0.04, "p": 0.95, "p_holm": 0.95, "verdict": "does not hold"},
]  # fmt: skip
CHOSEN = {  # as experiments.search writes it
    "sweep": "real_urdu",
    "trials": 6,
    "budget": {"max_epochs": 30, "patience": 5},
    "labels": {
        "whisper_base": {
            "params": {"model.lr_head": 0.001, "model.head_hidden": 64},
            "best_val_ua": 0.7123,
            "best_trial": 2,
            "trials": 6,
            "complete": 4,
            "pruned": 2,
            "failed": 0,
            "epochs": 30,
            "seconds": 410.2,
        }
    },
    "unfinished": ["cnn_lstm"],
}
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHECK = """<script>
window.addEventListener("load", () => {
  const images = [...document.images];
  const out = document.createElement("pre");
  out.id = "browser-check";
  out.textContent = JSON.stringify({
    images: images.length,
    loaded: images.filter(i => i.complete && i.naturalWidth > 0).length,
    shown: images.map(i => Math.round(i.getBoundingClientRect().width)),
    verdicts: [...document.querySelectorAll("#verdicts tbody tr")].map(r => r.textContent),
    missing: document.querySelectorAll("#missing tbody tr").length,
  });
  document.body.appendChild(out);
});
</script>"""


class Page(HTMLParser):
    """Every tag's attributes, and the text of each table by id."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "table":
            self._table = attrs.get("id", "")
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag == "td" and self._table is not None:
            self.tables[self._table][-1].append("")

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._table is not None and self.tables[self._table] and self.tables[self._table][-1]:
            self.tables[self._table][-1][-1] += data


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """real_urdu (60 runs, README numbers) with a failed run, a pending run, claims and a search's choices; reported by the CLI."""
    folder = tmp_path_factory.mktemp("study")
    sweep = real_urdu_like(folder / "real_urdu", failed={FAILED}, pending={PENDING}, sweep_file=labelled_copy("real_urdu", folder))
    write_claims(sweep, [{"metric": "ua", "group": "target", "seeds": 3, "speakers": 240, **claim} for claim in CLAIMS])
    (folder / "real_urdu" / "search").mkdir()
    (folder / "real_urdu" / "search" / "chosen.json").write_text(json.dumps(CHOSEN))
    assert main(["report", str(folder / "real_urdu.yaml")]) == 0
    html = (folder / "real_urdu" / "report.html").read_text()
    page = Page()
    page.feed(html)
    return SimpleNamespace(folder=folder / "real_urdu", html=html, page=page, markdown=(folder / "real_urdu" / "report.md").read_text())


def test_the_report_is_one_self_contained_page_with_every_figure_inline(study):
    images = [attrs["src"] for tag, attrs in study.page.tags if tag == "img"]
    assert len(images) == 5
    for name, src in zip(["heatmap", "fewshot", "noise", "pretrained", "recall"], images):
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]) == (study.folder / "plots" / f"{name}.png").read_bytes()
    assert "<script" not in study.html and "<link" not in study.html and not re.search(r"""(src|href)=["']?(https?:|//)""", study.html)
    links = [attrs["href"] for tag, attrs in study.page.tags if tag == "a"]
    files = [href for href in links if not href.startswith("#")]
    assert files and all((study.folder / href).exists() for href in files)  # logs, configs, PDFs: beside the report
    assert {f"#{anchor}" for anchor in ("claims", "figures", "results-tables", "search", "runs")} <= set(links)


def test_failed_and_missing_runs_are_named_with_their_logs(study):
    assert "58 of 60 runs finished" in study.html and "2 of 60 runs are not in the figures and tables (1 failed, 1 pending)" in study.html
    missing = {row[0]: row for row in study.page.tables["missing"] if row}
    assert set(missing) == {FAILED, PENDING}
    assert missing[FAILED][1] == "failed" and "RuntimeError: CUDA out of memory" in missing[FAILED][2] and missing[FAILED][3] == "log"
    assert missing[PENDING][2] == "never started"
    log = f'href="runs/{FAILED}/run.log"'
    assert log in study.html and "Traceback" in (study.folder / "runs" / FAILED / "run.log").read_text()
    runs = {row[0]: row for row in study.page.tables["run-table"] if row}
    assert len(runs) == 60 and runs[FAILED][1] == "failed" and runs["model=whisper_base,shots=k0,seed_everything=0"][2] == "Whisper base"
    assert "python -m ser_lightning fit --config study/public_copies.yaml" in study.html  # every command line


def test_the_verdict_table_shows_each_claim_with_its_interval_and_holm_p(study):
    rows = [row for row in study.page.tables["verdicts"] if row]
    assert [row[0] for row in rows] == [claim["name"] for claim in CLAIMS]
    first, _, third, fourth = rows
    assert first[1:7] == ["Whisper base (0.509) vs CNN-LSTM (0.407)", "ua target", "0.102", "[0.061, 0.140]", "0.008", "holds"]
    assert rows[1][5] == "< 0.001" and third[1] == "Whisper base vs CNN-LSTM; shots: k0 → k20" and third[6] == "inconclusive"
    assert fourth[6] == "does not hold" and third[8] == "4-8 set-aside URDU speakers"
    assert 'class="badge does-not-hold"' in study.html


def test_results_tables_carry_their_intervals_and_the_search_its_choices(study):
    results = [row for row in study.page.tables["results"] if row]
    assert len(results) == 12 and results[0][:2] == ["CNN-LSTM", "k0"]  # 4 models x 3 k, in the sweep's order
    assert all(re.fullmatch(r"0\.\d{3} ± 0\.\d{3} \(\d\)", cell) for row in results for cell in row[2:])
    assert results[2][-1].endswith("(4)")  # the failed run's cell averages the 4 other seeds, and says so
    noise = [row for row in study.page.tables["noise"] if row]
    assert len(noise) == 8 and noise[0][:2] == ["CNN-LSTM", "target (unseen)"]
    chosen = [row for row in study.page.tables["chosen"] if row]
    assert chosen == [
        ["Whisper base", "lr_head=0.001, head_hidden=64", "0.712 (2)", "6: 4 / 2 / 0", "30", "410 s"],
        ["CNN-LSTM", "none finished", "–", "–", "–", "–"],
    ]
    interval = Cell(0.5, 0.1, 3)
    interval.low, interval.high = 0.41, 0.58  # the study's bootstrap interval, where computed
    assert cell_text(interval) == "0.500 [0.410, 0.580] (3)" and cell_text(Cell(0.5, 0.1, 3)) == "0.500 ± 0.100 (3)" and cell_text(None) == "–"


def test_the_markdown_report_says_the_same_with_figures_beside_it(study):
    md = study.markdown
    for heading in ("## Claims and verdicts", "## Figures", "## Results", "## Model selection", "## Runs"):
        assert heading in md
    figures = re.findall(r"!\[(\w+)\]\(([^)]+)\)", md)
    assert [name for name, _ in figures] == ["heatmap", "fewshot", "noise", "pretrained", "recall"]
    assert all((study.folder / path).is_file() for _, path in figures) and "(plots/fewshot.pdf)" in md
    assert (
        "| pre-trained beats the CNN-LSTM | Whisper base (0.509) vs CNN-LSTM (0.407) | ua target | 0.102 | [0.061, 0.140] | 0.008 | **holds** |" in md
    )
    assert f"[log](runs/{FAILED}/run.log)" in md


def test_without_claims_the_report_says_so_and_unreadable_claims_are_one_warning(tmp_path, capsys):
    sweep = demo_pretrained_like(tmp_path / "demo_pretrained")
    written = write_report(sweep)
    html = written.html.read_text()
    assert "No claims declared/computed: claims.json is absent" in html and "9 of 9 runs finished" in html
    assert html.count("<img ") == len(written.figures) == 3 and 'id="missing"' not in html and "Model selection" not in html
    assert "wrote" in capsys.readouterr().out
    (tmp_path / "demo_pretrained" / "claims.json").write_text("{not json")
    html = write_report(sweep).html.read_text()
    assert re.search(r'<p class="warning">\S*claims.json could not be read \(.*\); compute it again.</p>', html)


def test_a_sweep_with_no_readable_finished_run_still_gets_a_report_naming_each_run(tmp_path):
    sweep = demo_pretrained_like(tmp_path / "none")
    first, *others = sorted((tmp_path / "none" / "runs").glob("*/done.json"))
    for marker in others:
        marker.unlink()  # never finished
    (first.parent / "logs" / "results.json").write_text("{")  # finished, but its results file is broken
    html = write_report(sweep).html.read_text()
    assert (
        "0 of 9 runs finished" in html and "No figures" in html and "9 of 9 runs are not in the figures and tables (8 pending, 1 unreadable)" in html
    )
    assert f'{first.parent.name}</td><td><span class="badge failed">unreadable</span></td><td>' in html and "is not a readable results file" in html


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking"]
    flags += ["--disable-component-update", "--disable-sync", f"--user-data-dir={profile}", "--window-size=1280,2400"]
    return subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=180)


def browser_check(page: Path, profile: Path) -> dict:
    """What the browser saw: the check script's JSON, from the DOM it dumps once the page and its scripts ran."""
    done = chromium("--virtual-time-budget=10000", "--dump-dom", page.as_uri(), profile=profile)
    found = re.search(r'<pre id="browser-check">(.*?)</pre>', done.stdout, re.S)
    assert found, f"no check in the dumped DOM (rc {done.returncode}): {done.stderr[-2000:]}"
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (Debian: apt-get install chromium; .ci/run installs it)")
def test_a_browser_shows_every_figure_and_the_verdict_table(study, tmp_path):
    checked = tmp_path / "checked.html"  # the report with a script that reports what loaded; the report itself has none
    checked.write_text(study.html.replace("</body>", CHECK + "</body>"))
    seen = browser_check(checked, tmp_path / "profile")
    assert seen["images"] == seen["loaded"] == 5 and all(width >= 400 for width in seen["shown"])  # every figure loaded and readable
    assert len(seen["verdicts"]) == 4 and "holds" in seen["verdicts"][0] and seen["missing"] == 2
    broken = tmp_path / "broken.html"  # the check can fail: one image's data spoiled
    broken.write_text(checked.read_text().replace("base64,iVBOR", "base64,AAAA", 1))
    assert browser_check(broken, tmp_path / "profile")["loaded"] == 4

    shot = tmp_path / "report.png"
    done = chromium(f"--screenshot={shot}", study.folder.joinpath("report.html").as_uri(), profile=tmp_path / "profile")
    assert shot.is_file(), done.stderr[-2000:]
    image = imread(shot)
    assert image.shape[:2] == (2400, 1280) and np.std(image[..., :3]) > 0.1  # the page, not a blank one
