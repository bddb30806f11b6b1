"""No child outlives the harness: stopped by PID and group, killed by the kernel if the harness dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from functools import partial
from pathlib import Path

import pytest

from golive.core.signals import shielded
from golive.fixtures import processes
from golive.fixtures.network import NotReady, wait_until
from golive.fixtures.processes import ChildProcess, run_tool, running_children, stop_together
from tests.harness.leaks import running


def wait_dead(pid: int) -> None:
    wait_until(lambda: True if not running(pid) else None, timeout=15, what=f"pid {pid} to end")


def test_stop_ends_the_child_and_its_group(tmp_path: Path) -> None:
    # A child with a grandchild in its process group, as servers with workers have.
    script = "import subprocess, time; subprocess.Popen(['sleep', '300']); print('ok', flush=True); time.sleep(300)"  # noqa: E501
    child = ChildProcess("parent", [sys.executable, "-c", script], log_path=tmp_path / "log").start()
    wait_until(lambda: True if "ok" in child.log_tail() else None, timeout=15, what="child to start")
    group = child.pid
    members = [int(pid) for pid in os.listdir("/proc") if pid.isdigit() and _pgid(int(pid)) == group]
    assert len(members) == 2
    assert child in running_children()
    child.stop(timeout=5)
    for pid in members:
        wait_dead(pid)
    assert child not in running_children()


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def test_a_child_that_ignores_sigterm_is_killed(tmp_path: Path) -> None:
    script = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ok', flush=True); time.sleep(300)"
    )
    child = ChildProcess("stubborn", [sys.executable, "-c", script], log_path=tmp_path / "log").start()
    wait_until(lambda: True if "ok" in child.log_tail() else None, timeout=15, what="child to start")
    assert child.stop(timeout=0.5) == -signal.SIGKILL


class Meeting:
    """Something to stop whose stop returns only once the others of its meeting are stopping too:
    stopped one after another, the first would wait alone until its barrier broke."""

    def __init__(self, barrier: threading.Barrier, error: Exception | None = None) -> None:
        self.barrier = barrier
        self.error = error
        self.stopped = False

    def stop(self) -> None:
        self.barrier.wait(timeout=15)
        self.stopped = True
        if self.error is not None:
            raise self.error


def test_servers_stop_side_by_side() -> None:
    barrier = threading.Barrier(3)
    servers = [Meeting(barrier) for _ in range(3)]
    stop_together(servers)
    assert all(server.stopped for server in servers)
    stop_together([])  # a replica set stopped already


def test_a_server_that_fails_to_stop_keeps_no_other_running_and_its_error_is_raised() -> None:
    barrier = threading.Barrier(3)
    servers = [Meeting(barrier), Meeting(barrier, OSError("the engine is gone")), Meeting(barrier)]
    with pytest.raises(OSError, match="the engine is gone"):
        stop_together(servers)
    assert all(server.stopped for server in servers)


def test_a_child_started_while_the_harness_ignores_stop_signals_still_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    """Ctrl-C in the middle of a lane starting its suite: the teardown ignores SIGINT and SIGTERM
    (shielded) while the lane's child starts. The child must not inherit that and wait out the
    stop's timeout to be killed."""
    script = "import time; print('ok', flush=True); time.sleep(300)"
    with shielded():
        child = ChildProcess("started", [sys.executable, "-c", script], log_path=tmp_path / "log").start()
    wait_until(lambda: True if "ok" in child.log_tail() else None, timeout=15, what="child to start")
    assert child.stop(timeout=5) == -signal.SIGTERM


def blocked_signals(status: str) -> set[signal.Signals]:
    """The signals a /proc status file says are blocked (SigBlk: a hex mask, bit n-1 for signal n)."""
    (mask,) = [line.split()[1] for line in status.splitlines() if line.startswith("SigBlk:")]
    bits = int(mask, 16)
    return {signum for signum in signal.Signals if bits >> (signum - 1) & 1}


STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


def test_the_spawner_thread_leaves_stop_signals_to_the_main_thread() -> None:
    """The kernel hands a process's signal to any thread that does not block it, and Python acts
    on it only at the main thread's next bytecode: one the spawner took while `golive up` slept
    was never acted on."""
    (spawner,) = [thread for thread in threading.enumerate() if thread.name == processes.SPAWNER_THREAD]
    status = Path(f"/proc/self/task/{spawner.native_id}/status").read_text()
    assert blocked_signals(status) >= STOP_SIGNALS


def test_a_child_the_spawner_forks_blocks_no_stop_signal(tmp_path: Path) -> None:
    script = "print(open('/proc/self/status').read(), flush=True)"
    child = ChildProcess("mask", [sys.executable, "-c", script], log_path=tmp_path / "log").start()
    assert child.wait_for(15) == 0
    assert blocked_signals((tmp_path / "log").read_text()) & STOP_SIGNALS == set()


def test_children_die_with_a_harness_killed_outright(tmp_path: Path) -> None:
    # The harness is SIGKILLed: no teardown runs, the kernel must end the child (PR_SET_PDEATHSIG).
    harness = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from golive.fixtures.processes import ChildProcess
        child = ChildProcess("orphan", ["sleep", "300"], log_path=Path({str(tmp_path / "log")!r})).start()
        print(child.pid, flush=True)
        time.sleep(300)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", harness], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    child_pid = int(process.stdout.readline())
    assert running(child_pid)
    process.kill()
    process.wait(10)
    wait_dead(child_pid)


@pytest.mark.parametrize("harness_alive", [True, False], ids=["harness-alive", "harness-gone"])
def test_a_child_whose_harness_died_before_its_death_signal_was_set_does_not_run(
    tmp_path: Path, harness_alive: bool
) -> None:
    # The harness killed between the fork and PR_SET_PDEATHSIG gets no signal sent: the child,
    # already another process's, must see that its parent is not the harness any more and end
    # before it execs. Here the harness it was forked for is this process, or one that ended.
    ended = subprocess.Popen(["true"])
    ended.wait(10)
    harness = os.getpid() if harness_alive else ended.pid
    ran = tmp_path / "ran"
    child = subprocess.Popen(["touch", str(ran)], preexec_fn=partial(processes._die_with, harness))
    assert child.wait(10) == (0 if harness_alive else 1)
    assert ran.exists() is harness_alive


def test_a_child_that_exits_early_ends_the_wait_with_its_reason(tmp_path: Path) -> None:
    child = ChildProcess(
        "quitter",
        [sys.executable, "-c", "print('bad config'); raise SystemExit(3)"],
        log_path=tmp_path / "log",
    ).start()

    def exited() -> str | None:
        code = child.exit_code()
        return None if code is None else f"exited with {code}: {child.log_tail()}"

    with pytest.raises(NotReady, match="exited with 3: bad config"):
        wait_until(lambda: None, timeout=60, what="quitter", give_up=exited)
    child.stop()


def test_a_tool_dies_with_a_harness_killed_outright(tmp_path: Path) -> None:
    # pg_dump in a drill, debootstrap in an image build: run to completion, yet never orphaned.
    harness = textwrap.dedent(
        """
        import threading
        from golive.fixtures.processes import run_tool
        threading.Thread(target=run_tool, args=(["sleep", "300"],), daemon=True).start()
        print("started", flush=True)
        threading.Event().wait(300)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", harness], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "started"
    tool = wait_until(lambda: _child_named(process.pid, "sleep"), timeout=15, what="the tool to start")
    process.kill()
    process.wait(10)
    wait_dead(tool)


def test_a_tool_over_its_time_is_killed_and_the_timeout_raised() -> None:
    with pytest.raises(subprocess.TimeoutExpired):
        run_tool(["sleep", "300"], timeout=0.5)
    done = run_tool([sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr)"])
    assert (done.returncode, done.stdout, done.stderr) == (0, "out\n", "err\n")


def _child_named(parent: int, name: str) -> int | None:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)
                if fields[0].endswith(f"({name}") and int(fields[1].split()[1]) == parent:
                    return int(entry)
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
    return None
