"""How much of the machine a measurement actually got (issue 14, item 2).

A round timed while another process held a core is slower for a reason that has
nothing to do with the code under test. Linux says how busy every CPU was in
/proc/stat; subtracting the CPU time of this process tree (children that already
exited included: their time is in their parent's cutime/cstime) leaves what *others*
took, and steal time is what the hypervisor gave to other guests. The capacity of a
round is then ``cores - others - steal``, in cores. The parsing, the formula and the
rejection rule are pure and tested on synthetic text; only :class:`Probe` and
:func:`quiet_wait` read /proc. Where /proc is missing (macOS, Windows) every figure
is None and nothing is rejected. The rules and their figures: docs/measurement.md.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
# A round is disturbed when others took this many cores more than in the best
# (quietest) round of the test: half a core is a neighbour's busy loop on a 2-core
# machine, far above the jitter of the scheduler (a few hundredths of a core).
DROP = 0.5
QUIET_THRESHOLD = 0.25  # cores used by others below which the machine counts as quiet


@dataclass(frozen=True)
class CpuTimes:
    """System-wide CPU time from the first line of /proc/stat, in clock ticks."""

    busy: int  # user + nice + system + irq + softirq (guest time is inside user)
    idle: int  # idle + iowait
    steal: int

    @property
    def total(self) -> int:
        return self.busy + self.idle + self.steal


def parse_proc_stat(text: str) -> CpuTimes:
    """The aggregate ``cpu`` line of /proc/stat (see proc(5))."""
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            values = [int(value) for value in fields[1:]]
            values += [0] * (8 - len(values))
            user, nice, system, idle, iowait, irq, softirq, steal = values[:8]
            return CpuTimes(user + nice + system + irq + softirq, idle + iowait, steal)
    raise ValueError("no aggregate 'cpu' line in /proc/stat text")


def parse_pid_stat(text: str) -> tuple[int, int]:
    """(parent pid, CPU ticks) from the text of /proc/PID/stat.

    The ticks are utime + stime and cutime + cstime: the children this process has
    reaped. A pool worker, or a process a head starts and ends within one round,
    would otherwise vanish from the tree with its time, and that time would count as
    another process's load (issue 21). The command name (field 2) is in parentheses
    and may contain spaces, so the fields are counted from the last closing one.
    """
    rest = text[text.rindex(")") + 2 :].split()
    # rest[0] is field 3 (state): ppid is field 4, utime 14, stime 15, cutime 16, cstime 17
    return int(rest[1]), sum(int(value) for value in rest[11:15])


def others_cores(
    before: CpuTimes, after: CpuTimes, own_ticks: int, cores: int
) -> tuple[float, float]:
    """(cores used by other processes, cores stolen) on average between two readings.

    ``own_ticks`` is the CPU time this process tree used in between. Clamped at 0:
    tick accounting of short intervals is coarse (one tick is 10 ms).
    """
    total = after.total - before.total
    if total <= 0:
        return 0.0, 0.0
    busy = after.busy - before.busy - own_ticks
    steal = after.steal - before.steal
    return max(0.0, cores * busy / total), max(0.0, cores * steal / total)


def own_cores(before: CpuTimes, after: CpuTimes, own_ticks: int, cores: int) -> float:
    """Cores this process tree itself used on average between two readings."""
    total = after.total - before.total
    if total <= 0:
        return 0.0
    return min(float(cores), max(0.0, cores * own_ticks / total))


def capacity_of(others: float, steal: float, cores: int) -> float:
    """Cores this measurement could have used: what others and the hypervisor left."""
    return max(0.0, min(float(cores), cores - others - steal))


def disturbed(capacities: Sequence[float | None], index: int, drop: float = DROP) -> bool:
    """Whether round ``index`` had materially less of the machine than the best round.

    The rule: capacity below the highest capacity seen in this test minus ``drop``
    cores. Relative to the best round, not to the core count, so a machine that is
    busy all along (a shared CI runner) does not lose every round, only the ones a
    burst of foreign work landed on.
    """
    known = [value for value in capacities if value is not None]
    value = capacities[index]
    if value is None or not known:
        return False
    return value < max(known) - drop


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def scan_tree(root: int, proc: Path = PROC) -> list[int]:
    """Pids of ``root`` and all its live descendants (pool workers, engines)."""
    parents: dict[int, int] = {}
    for entry in proc.iterdir() if proc.is_dir() else ():
        if not entry.name.isdigit():
            continue
        text = _read(entry / "stat")
        if text is None:
            continue
        try:
            parents[int(entry.name)] = parse_pid_stat(text)[0]
        except (ValueError, IndexError):
            continue
    return list(_descendants(root, parents))


def ticks_of(pids: Iterable[int], proc: Path = PROC) -> tuple[int, bool]:
    """(CPU ticks of ``pids``, whether every one of them could still be read)."""
    total, complete = 0, True
    for pid in pids:
        text = _read(proc / str(pid) / "stat")
        if text is None:
            complete = False
            continue
        try:
            total += parse_pid_stat(text)[1]
        except (ValueError, IndexError):
            complete = False
    return total, complete


def tree_ticks(root: int, proc: Path = PROC) -> int:
    """CPU ticks of ``root`` and all its live descendants."""
    return ticks_of(scan_tree(root, proc), proc)[0]


def _descendants(root: int, parents: dict[int, int]) -> Iterable[int]:
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    stack = [root]
    seen = set()
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        yield pid
        stack.extend(children.get(pid, ()))


@dataclass(frozen=True)
class Reading:
    system: CpuTimes
    own: int


class Probe:
    """Capacity of the machine during one stretch of time (a round).

    ``start()`` before the round, ``stop()`` after it returns the cores this
    process tree could have used, or None where /proc/stat cannot be read; after it
    ``last_own`` holds the cores the tree itself used (regression.excuse_by_capacity
    excuses a capacity loss only when that did not fall). Workers
    of an engine that are not our descendants (a Ray, Dask or Celery cluster started
    elsewhere on this machine) count as "others": pass their pids in ``extra``.
    """

    def __init__(
        self,
        cores: int,
        *,
        root: int | None = None,
        extra: Callable[[], Iterable[int]] | None = None,
        proc: Path = PROC,
    ) -> None:
        self.cores = cores
        self.root = os.getpid() if root is None else root
        self.extra = extra
        self.proc = proc
        self._start: Reading | None = None
        self._tree: list[int] = []
        self.last_own: float | None = None
        self.available = (proc / "stat").is_file()

    def _reading(self, rescan: bool) -> Reading | None:
        text = _read(self.proc / "stat")
        if text is None:
            return None
        if rescan or not self._tree:
            roots = [self.root, *(self.extra() if self.extra is not None else ())]
            self._tree = sorted({pid for root in roots for pid in scan_tree(root, self.proc)})
        own, complete = ticks_of(self._tree, self.proc)
        if not complete and not rescan:
            return self._reading(rescan=True)
        return Reading(parse_proc_stat(text), own)

    def start(self) -> None:
        # The tree as the previous stop found it: a process started between two
        # rounds is rare, and one that left makes the reading rescan.
        self._start = self._reading(rescan=False) if self.available else None

    def stop(self) -> float | None:
        # Rescanned at every stop (issue 21): a process that started during the round
        # counts as ours, not as another process's load. Scanning /proc costs ~0.4 ms
        # a process on a loaded machine, once a round.
        begun, self._start = self._start, None
        self.last_own = None
        if begun is None:
            return None
        end = self._reading(rescan=True)
        if end is None:
            return None
        own = end.own - begun.own
        others, steal = others_cores(begun.system, end.system, own, self.cores)
        self.last_own = own_cores(begun.system, end.system, own, self.cores)
        return capacity_of(others, steal, self.cores)


def settled(others: Sequence[float], threshold: float = QUIET_THRESHOLD) -> bool:
    """Whether the foreign load, one figure per window, no longer needs waiting for.

    Quiet (the last window under ``threshold`` cores), or steady: over the last three
    windows it fell by no more than ``threshold``. A previous engine shutting down is
    a falling load; a neighbour's steady load does not go away by waiting, so the
    wait ends instead of spending its whole bound on every test of a busy machine.
    """
    if others and others[-1] <= threshold:
        return True
    return len(others) >= 3 and others[-3] - others[-1] <= threshold


def quiet_wait(
    max_seconds: float,
    threshold: float = QUIET_THRESHOLD,
    *,
    cores: int | None = None,
    window: float = 0.2,
    probe: Probe | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> float:
    """Wait until the load of other processes has :func:`settled`, at most ``max_seconds``.

    Returns the seconds waited, for the record: a previous engine's processes still
    shutting down land here instead of in the next measurement. Returns 0 at once
    where /proc/stat cannot be read.
    """
    used = probe or Probe(cores or os.cpu_count() or 1)
    if not used.available or max_seconds <= 0:
        return 0.0
    started = clock()
    others: list[float] = []
    while True:
        used.start()
        sleep(window)
        capacity = used.stop()
        waited = clock() - started
        if capacity is None:
            return waited
        others.append(used.cores - capacity)
        if settled(others, threshold) or waited >= max_seconds:
            return waited
