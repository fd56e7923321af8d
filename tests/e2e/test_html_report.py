"""The HTML report, rendered by a real browser from a synthetic results document."""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_parscale.errors import BaselineError
from pytest_parscale.html import write_html_report, write_html_report_from_file
from pytest_parscale.plots import INSTALL_HINT, PlotUnavailable, require_matplotlib
from pytest_parscale.scaling import usl_speedup
from pytest_parscale.sizes import format_size
from pytest_parscale.storage import Results, from_document
from tests.records import MACHINE

CHROMIUM = (
    os.environ.get("PARSCALE_CHROMIUM")
    or shutil.which("chromium")
    or shutil.which("chromium-browser")
    or shutil.which("google-chrome")
)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (run scripts/install-chromium.sh, or set PARSCALE_CHROMIUM)",
)
EVIL = "tests/test_evil.py::test_x[pool-<script>document.title='pwned'</script>]"
WORKERS = (1, 2, 4, 8, 16)
SIZES = (10, 1000, 100_000)
# Seconds of transport per second of serial work at each item size: a per-run cost that
# no worker count removes, large for small items (a Pool over 10-byte items is ~93x slower than a loop).
TRANSPORT = {10: 12.0, 1000: 0.3, 100_000: 0.02}


def make_record(
    nodeid: str,
    backend: str,
    workers: int,
    speedup: float,
    *,
    item_size: int | None,
    usable_cores: int = 16,
) -> dict[str, Any]:
    """A record shaped like Record.to_dict(), with made-up but consistent numbers."""
    serial = 0.2
    return {
        "nodeid": nodeid,
        "backend": backend,
        "kind": "map",
        "workers_requested": workers,
        "workers": workers,
        "oversubscribed": workers > usable_cores,
        "item_size": item_size,
        "item_count": 1000,
        "chunksize": None,
        "speedup": {
            "estimate": speedup,
            "low": speedup * 0.95,
            "high": speedup * 1.05,
            "confidence": 0.95,
        },
        "transport_share": {"estimate": 0.1, "low": 0.08, "high": 0.12, "confidence": 0.95},
        "efficiency": speedup / workers,
        "karp_flatt": None if workers < 2 else (1 / speedup - 1 / workers) / (1 - 1 / workers),
        "projection": None,
        "requirements": [],
        "verdict": "pass",
        "rounds": 5,
        "elapsed": 1.0,
        "warmup_seconds": 0.1,
        "stop_reason": "decided",
        "executor": {},
        "warnings": [],
        "samples": {
            "serial": [serial] * 5,
            "parallel": [serial / speedup] * 5,
            "transport": [serial / speedup / 10] * 5,
        },
    }


def synthetic(usable_cores: int = 16) -> Results:
    """The synthetic document through the one loader, as the plugin and CLI read it."""
    return from_document(synthetic_document(usable_cores), "synthetic")


def synthetic_document(usable_cores: int = 16) -> dict[str, Any]:
    """Two backends swept over 1..16 workers at three item sizes, plus a hostile test id."""
    results = []
    for backend, sigma, kappa in (("pool", 0.05, 0.002), ("process", 0.08, 0.004)):
        for size in SIZES:
            for workers in WORKERS:
                speedup = 1 / (1 / usl_speedup(sigma, kappa, workers) + TRANSPORT[size])
                nodeid = (
                    f"tests/test_scale.py::test_checksum[{backend}-{format_size(size)}-{workers}w]"
                )
                results.append(
                    make_record(
                        nodeid,
                        backend,
                        workers,
                        speedup,
                        item_size=size,
                        usable_cores=usable_cores,
                    )
                )
    results.append(make_record(EVIL, "pool", 2, 1.5, item_size=None))
    return {
        "schema_version": 1,
        "created": "2026-01-01T00:00:00+00:00",
        "git": None,
        "machine": {**MACHINE, "usable_cores": usable_cores, "cpu_model": "Synthetic <b>CPU</b>"},
        "engines": [],
        "results": results,
    }


def reviewed_document() -> dict[str, Any]:
    """What a reviewer opens after a run of the examples on a busy 2-core machine: long
    test ids, speedups of 1e-4 with their intervals, transport shares clipped at 100%,
    capacity per test, a failure, undecided tests and projections to 8 workers."""
    results = []
    tests = [("test_cpu_work_scales", None), ("test_groupby_per_shard", None)]
    tests += [("test_checksum_serialisation_tax", size) for size in (10, 1000, 100_000, 10**7)]
    tests += [("test_threads_share_one_interpreter_lock", None)]
    for number, backend in enumerate(("pool", "process", "thread", "ray", "dask", "celery")):
        for name, size in tests:
            label = f"{backend}-{format_size(size)}" if size is not None else backend
            speedup = 0.000148 * 10 ** (number % 4) if size == 10 else 1.05
            record = make_record(
                f"test_serialisation_tax.py::{name}[{label}]",
                backend,
                2,
                speedup,
                item_size=size,
                usable_cores=2,
            )
            record["speedup"].update(low=speedup * 0.66, high=speedup * 1.04)
            record["transport_share"].update(estimate=1.035, low=0.97, high=1.43)
            record["capacity"] = {"cores": 1.4, "low": 0.9, "usable": 2, "rounds_rejected": 0}
            record["capacity"].update(quiet_wait_seconds=0.0, per_round=[1.4] * 5)
            results.append(record)
    failed, undecided, projected = results[0], results[7], results[14]
    failed["requirements"] = [
        {"metric": "speedup", "threshold": 1.3, "declared": 1.3, "verdict": "fail"}
    ]
    failed["verdict"] = "fail"
    undecided["requirements"] = [
        {"metric": "speedup", "threshold": 1.0, "declared": 1.0, "verdict": "undecided"}
    ]
    undecided["verdict"] = "undecided"
    projected.update(workers_requested=8, projection=None)
    projected["speedup"].update(estimate=0.66)  # below 1x: no serial fraction to project from
    return {
        **synthetic_document(usable_cores=2),
        "schema_version": 2,
        "machine": {**MACHINE, "load_average": [1.83, 1.29, 0.69]},
        "results": results,
    }


@pytest.fixture
def report(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    pytest.importorskip("matplotlib", reason=f"plots need the plot extra: {INSTALL_HINT}")
    document = synthetic_document()
    results = tmp_path / "results.json"
    results.write_text(json.dumps(document), encoding="utf-8")
    return write_html_report_from_file(results, tmp_path / "report"), document


def run_chromium(profile: Path, *args: str) -> str:
    """Headless chromium in its own session, killed as a group if it hangs."""
    assert CHROMIUM is not None
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        *args,
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"chromium did not finish in 120 s: {command}")
    finally:
        # Helpers chromium may have left behind in its own process group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 0, err[-2000:]
    return out


PROBE = """<script>
window.addEventListener("load", () => {
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify({
    images: [...document.images].map((i) => [i.complete, i.naturalWidth, i.naturalHeight]),
    rows: document.querySelectorAll("table.results tr.result").length,
    scripts: document.scripts.length,
    title: document.title,
    page: [document.documentElement.scrollWidth, document.documentElement.clientWidth],
  });
  document.body.appendChild(out);
});
</script>"""


@needs_chromium
def test_report_renders_in_chromium_with_images_and_one_row_per_test(
    report: tuple[Path, dict[str, Any]], tmp_path: Path, record_property: Any
) -> None:
    index, document = report
    # A copy with a load-time probe; the policy of the copy alone allows that one script.
    page = index.read_text(encoding="utf-8")
    probed = page.replace("default-src 'none';", "default-src 'none'; script-src 'unsafe-inline';")
    probe_page = index.with_name("probe.html")
    probe_page.write_text(probed.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = run_chromium(
        tmp_path / "profile-probe",
        "--window-size=1280,2400",
        "--hide-scrollbars",
        "--virtual-time-budget=10000",
        "--dump-dom",
        probe_page.as_uri(),
    )
    match = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert match is not None, dom[-2000:]
    probe = json.loads(html.unescape(match.group(1)))
    # 2 backends x 3 sizes worker sweeps, and one item-size picture per worker count.
    assert len(probe["images"]) == 2 * len(SIZES) + len(WORKERS)
    assert all(
        complete and width > 300 and height > 200 for complete, width, height in probe["images"]
    )
    assert probe["rows"] == len(document["results"])
    assert probe["scripts"] == 1  # the probe itself: the hostile test id made none
    assert probe["title"] == "pytest-parscale report"
    assert probe["page"][0] <= probe["page"][1], "sweeps and plots scroll sideways at 1280 px"

    screenshot = tmp_path / "report-screenshot.png"
    run_chromium(
        tmp_path / "profile-shot",
        "--window-size=1280,2400",
        "--hide-scrollbars",
        f"--screenshot={screenshot}",
        index.as_uri(),
    )
    record_property("screenshot", str(screenshot))
    data = screenshot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 2400)
    assert len(data) > 50_000, "a page with tables and plots compresses to more than this"


LAYOUT = """<script>
window.addEventListener("load", () => {
  const out = document.createElement("pre");
  const wide = document.querySelector("div.wide");
  const test = document.querySelector("table.results td.test");
  out.id = "layout";
  out.textContent = JSON.stringify({
    page: [document.documentElement.scrollWidth, document.documentElement.clientWidth],
    table: [wide.scrollWidth, wide.clientWidth],
    sticky: getComputedStyle(test).position,
    headline: document.querySelector(".headline").textContent,
  });
  document.body.appendChild(out);
});
</script>"""


def layout(index: Path, profile: Path, width: int) -> dict[str, Any]:
    """How the page lays out in a window ``width`` pixels wide, read by a load-time probe."""
    page = index.read_text(encoding="utf-8")
    probed = page.replace("default-src 'none';", "default-src 'none'; script-src 'unsafe-inline';")
    probe_page = index.with_name(f"layout-{width}.html")
    probe_page.write_text(probed.replace("</body>", LAYOUT + "</body>"), encoding="utf-8")
    dom = run_chromium(
        profile,
        f"--window-size={width},900",
        "--hide-scrollbars",
        "--dump-dom",
        probe_page.as_uri(),
    )
    match = re.search(r'<pre id="layout">(.*?)</pre>', dom, re.S)
    assert match is not None, dom[-2000:]
    found: dict[str, Any] = json.loads(html.unescape(match.group(1)))
    return found


@needs_chromium
def test_a_reviewer_at_1280_px_reads_the_whole_table_without_scrolling_sideways(
    tmp_path: Path, record_property: Any
) -> None:
    results = from_document(reviewed_document(), "reviewed")
    index = write_html_report(results, tmp_path / "report", plots=False)
    wide = layout(index, tmp_path / "profile-1280", 1280)
    assert wide["page"][0] <= wide["page"][1], "the page scrolls sideways at 1280 px"
    assert wide["table"][0] <= wide["table"][1], "the results table scrolls at 1280 px"
    measured = len(results.records)
    assert wide["headline"] == (
        f"{measured} tests measured: {measured - 2} passed, 1 failed, 1 undecided."
    )
    # Narrower than the table: it scrolls inside itself, the test ids held in place.
    narrow = layout(index, tmp_path / "profile-800", 800)
    assert narrow["page"][0] <= narrow["page"][1], "the page scrolls sideways at 800 px"
    assert narrow["table"][0] > narrow["table"][1]
    assert narrow["sticky"] == "sticky"

    screenshot = tmp_path / "reviewed-1280.png"
    run_chromium(
        tmp_path / "profile-shot",
        "--window-size=1280,1600",
        "--hide-scrollbars",
        f"--screenshot={screenshot}",
        index.as_uri(),
    )
    record_property("screenshot", str(screenshot))


def test_the_page_says_the_machine_in_words_and_each_note_once(tmp_path: Path) -> None:
    document = reviewed_document()
    sharing = document["results"][20:28]  # eight tests with one warning
    for record in sharing:
        record["warnings"] = ["a neighbour took a core"]
    page = write_html_report(from_document(document, "reviewed"), tmp_path, plots=False)
    text = page.read_text(encoding="utf-8")
    for raw in ("load_average", "cgroup_cpu_quota", "null", "[1.83"):
        assert raw not in text
    assert "2 usable (2 logical CPUs, no cgroup CPU quota)" in text
    assert "1.83, 1.29 and 0.69 over the last 1, 5 and 15 minutes" in text
    assert text.count("a neighbour took a core") == 1
    shared = re.search(r"a neighbour took a core<br>(.*?)</li>", text)
    assert shared is not None
    assert shared.group(1).count(", ") == len(sharing) - 1  # each test once, folded away:
    assert f"<summary>{len(sharing)} tests</summary>" in shared.group(1)
    assert text.count("speedup 1.05x [0.69, 1.09] &lt; required 1.30x") == 1  # the failure
    assert "no projection (Amdahl)</span>: at 8 workers: no serial fraction at 2 workers" in text
    assert "Not compared with a baseline" in text


@needs_chromium
def test_hostile_test_id_is_text_in_the_rendered_dom(
    report: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    index, _ = report
    dom = run_chromium(tmp_path / "profile", "--dump-dom", index.as_uri())
    # Attribute values aside (serialisers differ on escaping < there), no script element.
    assert "<script" not in re.sub(r'"[^"]*"', '""', dom)
    assert html.escape(EVIL.split("::", 1)[1], quote=False) in dom
    assert "Synthetic &lt;b&gt;CPU&lt;/b&gt;" in dom


def test_report_is_self_contained_and_says_what_was_fitted(
    report: tuple[Path, dict[str, Any]],
) -> None:
    index, _ = report
    page = index.read_text(encoding="utf-8")
    assert not re.search(r"""(?:src|href)=["']?(?:https?:)?//""", page)
    assert "url(" not in page
    assert "<script" not in page
    # Two backends: fits at 1KB and 100KB; at 10B transport swamps every count.
    assert page.count("USL fit: contention sigma") == 4
    assert page.count("No USL fit: parallel runs are slower than serial") == 2
    assert "predicted peak" in page
    assert "crosses 1.0x near" in page
    drawn = [path.suffix for path in (index.parent / "plots").iterdir()]
    assert drawn.count(".png") == drawn.count(".svg") == 2 * len(SIZES) + len(WORKERS)


def test_two_core_report_says_why_no_usl_fit_was_made(tmp_path: Path) -> None:
    page = write_html_report(synthetic(usable_cores=2), tmp_path, plots=False).read_text(
        encoding="utf-8"
    )
    assert page.count("No USL fit: it needs at least 4 distinct worker counts") == 2 * len(SIZES)
    assert "With 2 usable cores no sweep can be fitted here" in page
    assert "projection (Amdahl, not measured)" in page
    assert "oversubscribed, not fitted" in page


def test_report_without_matplotlib_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(PlotUnavailable, match=re.escape(INSTALL_HINT)):
        require_matplotlib()
    page = write_html_report(synthetic(), tmp_path).read_text(encoding="utf-8")
    assert "Plots not drawn: plots need matplotlib: pip install" in page
    assert "<img" not in page
    assert page.count('<tr class="result">') == len(synthetic_document()["results"])


def test_unknown_schema_version_is_refused_by_the_one_loader(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"schema_version": 99, "results": []}), encoding="utf-8")
    with pytest.raises(BaselineError, match="schema_version 99, newer than this"):
        write_html_report_from_file(results, tmp_path / "report")
