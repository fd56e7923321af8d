"""Capacity of the machine from /proc text: parsing, formula, rejection rule, wait."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_parscale.capacity import (
    CpuTimes,
    Probe,
    capacity_of,
    disturbed,
    others_cores,
    parse_pid_stat,
    parse_proc_stat,
    quiet_wait,
    tree_ticks,
)

STAT = """cpu  100 10 40 800 20 5 5 20 0 0
cpu0 50 5 20 400 10 2 3 10 0 0
intr 1 2 3
"""


def test_parse_proc_stat_sums_busy_idle_and_steal() -> None:
    times = parse_proc_stat(STAT)
    assert times == CpuTimes(busy=100 + 10 + 40 + 5 + 5, idle=820, steal=20)
    assert times.total == 160 + 820 + 20


def test_parse_proc_stat_without_a_cpu_line_is_an_error() -> None:
    with pytest.raises(ValueError, match="'cpu' line"):
        parse_proc_stat("intr 1 2\n")


def test_parse_pid_stat_survives_spaces_and_parentheses_in_the_name() -> None:
    text = "4242 (my (odd) name) S 17 4242 1 0 -1 0 0 0 0 0 30 12 0 0 20 0 1 0 5 0 0"
    assert parse_pid_stat(text) == (17, 42)


def test_others_and_steal_in_cores() -> None:
    before = CpuTimes(busy=0, idle=0, steal=0)
    # 200 ticks over 2 cores: we used 100, others 60, steal 20, idle 20
    after = CpuTimes(busy=160, idle=20, steal=20)
    others, steal = others_cores(before, after, own_ticks=100, cores=2)
    assert others == pytest.approx(0.6)
    assert steal == pytest.approx(0.2)
    assert capacity_of(others, steal, 2) == pytest.approx(1.2)


def test_others_never_negative_and_capacity_clamped() -> None:
    before = CpuTimes(0, 0, 0)
    assert others_cores(before, CpuTimes(10, 90, 0), own_ticks=50, cores=2) == (0.0, 0.0)
    assert others_cores(before, before, own_ticks=0, cores=2) == (0.0, 0.0)
    assert capacity_of(3.0, 0.0, 2) == 0.0


def test_disturbed_is_relative_to_the_best_round() -> None:
    capacities: list[float | None] = [1.9, 1.95, 1.2, 1.5, None]
    assert not disturbed(capacities, 0)
    assert disturbed(capacities, 2)  # 0.75 below the best
    assert not disturbed(capacities, 3)  # 0.45 below: within the rule
    assert not disturbed(capacities, 4)  # unknown capacity: kept
    # a machine busy all along keeps its rounds
    assert not any(disturbed([0.8, 0.9, 0.7], index) for index in range(3))


def _fake_proc(tmp_path: Path, stat: str, pids: dict[int, tuple[int, int]]) -> Path:
    (tmp_path / "stat").write_text(stat)
    for pid, (parent, ticks) in pids.items():
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "stat").write_text(
            f"{pid} (python) S {parent} 0 0 0 -1 0 0 0 0 0 {ticks} 0 0 0 20 0 1 0 5"
        )
    return tmp_path


def test_tree_ticks_counts_descendants_only(tmp_path: Path) -> None:
    proc = _fake_proc(tmp_path, STAT, {10: (1, 5), 11: (10, 7), 12: (11, 3), 20: (1, 100)})
    assert tree_ticks(10, proc) == 15
    assert tree_ticks(20, proc) == 100


def test_probe_reports_capacity_from_two_readings(tmp_path: Path) -> None:
    proc = _fake_proc(tmp_path, "cpu  0 0 0 0 0 0 0 0\n", {10: (1, 0)})
    probe = Probe(2, root=10, proc=proc)
    probe.start()
    (proc / "stat").write_text("cpu  160 0 0 20 0 0 0 20\n")
    (proc / "10" / "stat").write_text("10 (python) S 1 0 0 0 -1 0 0 0 0 0 100 0 0 0 20 0 1 0 5")
    assert probe.stop() == pytest.approx(1.2)


def test_probe_without_proc_reports_nothing(tmp_path: Path) -> None:
    probe = Probe(2, proc=tmp_path / "missing")
    probe.start()
    assert probe.stop() is None
    assert quiet_wait(5.0, probe=probe) == 0.0


class ScriptedProbe:
    """Capacities to report, one per window; the clock advances by the window."""

    def __init__(self, capacities: list[float], clock: list[float]) -> None:
        self.cores = 2
        self.available = True
        self.capacities = capacities
        self.clock = clock

    def start(self) -> None:
        pass

    def stop(self) -> float | None:
        return self.capacities.pop(0)


def test_quiet_wait_returns_once_others_leave(tmp_path: Path) -> None:
    now = [0.0]
    probe = ScriptedProbe([0.5, 1.0, 1.9, 1.0], now)

    def sleep(seconds: float) -> None:
        now[0] += seconds

    waited = quiet_wait(
        10.0,
        0.25,
        probe=probe,
        sleep=sleep,
        clock=lambda: now[0],
        window=0.2,  # type: ignore[arg-type]
    )
    assert waited == pytest.approx(0.6)


def test_settled_means_quiet_or_no_longer_falling() -> None:
    from pytest_parscale.capacity import settled

    assert settled([0.1])
    assert not settled([1.5, 1.2])  # busy, too early to tell
    assert not settled([1.8, 1.2, 0.9])  # falling: an engine shutting down
    assert settled([1.5, 1.4, 1.5])  # a steady neighbour: waiting does not help


def test_quiet_wait_stops_on_a_steady_load() -> None:
    now = [0.0]
    probe = ScriptedProbe([0.5] * 100, now)

    def sleep(seconds: float) -> None:
        now[0] += seconds

    waited = quiet_wait(5.0, 0.25, probe=probe, sleep=sleep, clock=lambda: now[0], window=0.2)  # type: ignore[arg-type]
    assert waited == pytest.approx(0.6)


def test_quiet_wait_is_bounded() -> None:
    now = [0.0]
    # others fall by 0.3 cores per window: still shutting down when the bound hits
    probe = ScriptedProbe([min(2.0, 0.02 + 0.3 * i) for i in range(100)], now)

    def sleep(seconds: float) -> None:
        now[0] += seconds

    waited = quiet_wait(1.0, 0.25, probe=probe, sleep=sleep, clock=lambda: now[0], window=0.2)  # type: ignore[arg-type]
    assert 1.0 <= waited < 1.3


def test_probe_reads_this_machine() -> None:
    probe = Probe(2)
    if not probe.available:
        pytest.skip("no /proc/stat here")
    probe.start()
    sum(i * i for i in range(200_000))
    capacity = probe.stop()
    assert capacity is not None
    assert 0.0 <= capacity <= 2.0


def test_probe_rescans_when_a_known_process_left(tmp_path: Path) -> None:
    import shutil

    proc = _fake_proc(tmp_path, "cpu  0 0 0 0 0 0 0 0\n", {10: (1, 0), 11: (10, 0)})
    probe = Probe(2, root=10, proc=proc)
    probe.start()
    assert probe.stop() is not None
    shutil.rmtree(proc / "11")  # a worker exited; another one took its place
    (proc / "12").mkdir()
    (proc / "12" / "stat").write_text("12 (python) S 10 0 0 0 -1 0 0 0 0 0 50 0 0 0 20 0 1 0 5")
    probe.start()
    (proc / "stat").write_text("cpu  100 0 0 100 0 0 0 0\n")
    (proc / "12" / "stat").write_text("12 (python) S 10 0 0 0 -1 0 0 0 0 0 150 0 0 0 20 0 1 0 5")
    # all 100 busy ticks were the new worker's: the machine was ours
    assert probe.stop() == pytest.approx(2.0)


def _stat(pid: int, parent: int, utime: int, cutime: int = 0) -> str:
    return f"{pid} (python) S {parent} 0 0 0 -1 0 0 0 0 0 {utime} 0 {cutime} 0 20 0 1 0 5"


def test_children_reaped_within_a_round_count_as_ours(tmp_path: Path) -> None:
    """A child that starts and exits inside one round is never seen in the tree; its
    time reaches its parent's cutime once reaped, and stays this tree's (issue 21)."""
    assert parse_pid_stat(_stat(10, 1, 30, cutime=70)) == (1, 100)
    proc = _fake_proc(tmp_path, "cpu  0 0 0 0 0 0 0 0\n", {10: (1, 0)})
    probe = Probe(2, root=10, proc=proc)
    probe.start()
    (proc / "stat").write_text("cpu  160 0 0 40 0 0 0 0\n")
    (proc / "10" / "stat").write_text(_stat(10, 1, 20, cutime=140))  # a child did 140
    assert probe.stop() == pytest.approx(2.0)  # every busy tick was this tree's
    assert probe.last_own == pytest.approx(1.6)


def test_the_tree_is_rescanned_at_every_stop(tmp_path: Path) -> None:
    """A worker started during the round is found at its end: its time is ours."""
    proc = _fake_proc(tmp_path, "cpu  0 0 0 0 0 0 0 0\n", {10: (1, 0)})
    probe = Probe(2, root=10, proc=proc)
    probe.start()
    (proc / "11").mkdir()
    (proc / "11" / "stat").write_text(_stat(11, 10, 100))
    (proc / "stat").write_text("cpu  100 0 0 100 0 0 0 0\n")
    assert probe.stop() == pytest.approx(2.0)
    assert probe.last_own == pytest.approx(1.0)
