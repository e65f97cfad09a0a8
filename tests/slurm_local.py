"""A single-node SLURM cluster on localhost, for trying (and testing) the `profiles/slurm` path.

Needs root and Debian's packages `slurm-wlm munge` (`install()` runs apt-get for them when missing):

    python tests/slurm_local.py start /tmp/featurelab-slurm    # munged (if none runs), slurmctld, slurmd
    python tests/slurm_local.py stop /tmp/featurelab-slurm     # stops exactly the daemons it started, by PID

It writes /etc/slurm/slurm.conf (the only place the `srun` inside a job looks: the SLURM executor's job
step drops SLURM_CONF from the environment) and refuses to run where one exists already, i.e. on a real
SLURM machine. The state, spool, logs and the job-completion log (`jobcomp.log`, one line per finished
job: JobId, Name, JobState, ...) live in the given directory. Accounting is `jobcomp/filetxt` only, so
`sacct` is disabled: run Snakemake with `--slurm-status-command squeue` (MinJobAge is set long enough).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

PACKAGES = ["slurm-wlm", "munge"]
DAEMONS = ["munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "srun"]
SLURM_CONF = Path("/etc/slurm/slurm.conf")
MUNGE_SOCKET = Path("/run/munge/munge.socket.2")
CTLD_PORT, SLURMD_PORT = 16817, 16818


def missing_commands() -> list[str]:
    return [c for c in DAEMONS + ["mungekey"] if shutil.which(c) is None and not Path("/usr/sbin", c).exists()]


def install(timeout: float = 900) -> None:
    """apt-get install the SLURM and munge packages (root only); no-op when they are there."""
    if not missing_commands():
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=timeout, capture_output=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES],
        check=True,
        env=env,
        timeout=timeout,
        capture_output=True,
    )


def _sbin(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin", name))


def _munge_works() -> bool:
    if not MUNGE_SOCKET.exists():
        return False
    cred = subprocess.run(["munge", "-n"], capture_output=True, text=True)
    return (
        cred.returncode == 0
        and subprocess.run(["unmunge"], input=cred.stdout, capture_output=True, text=True).returncode == 0
    )


def slurm_conf(workdir: Path) -> str:
    host = socket.gethostname().split(".")[0]
    mem_mb = int(int(Path("/proc/meminfo").read_text().split()[1]) / 1024 * 0.9)
    return f"""# written by featurelab tests/slurm_local.py for {workdir}
ClusterName=featurelab
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={CTLD_PORT}
SlurmdPort={SLURMD_PORT}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation={workdir}/state
SlurmdSpoolDir={workdir}/spool
SlurmctldPidFile={workdir}/slurmctld.pid
SlurmdPidFile={workdir}/slurmd.pid
SlurmctldLogFile={workdir}/slurmctld.log
SlurmdLogFile={workdir}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc={workdir}/jobcomp.log
MinJobAge=600
ReturnToService=2
NodeName={host} NodeAddr=127.0.0.1 CPUs={os.cpu_count()} RealMemory={mem_mb} State=UNKNOWN
PartitionName=local Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


def start(workdir: Path, timeout: float = 60) -> dict:
    """Start munged (unless one answers on the default socket), slurmctld and slurmd; return their PIDs
    (also written to <workdir>/pids.json). Raises RuntimeError if SLURM is configured here already."""
    workdir = Path(workdir).resolve()
    if SLURM_CONF.exists():
        raise RuntimeError(f"{SLURM_CONF} exists: a SLURM is configured on this machine already")
    for sub in ("state", "spool"):
        (workdir / sub).mkdir(parents=True, exist_ok=True)
    pids: dict[str, int] = {}
    logs = {}

    def spawn(name, cmd):
        logs[name] = open(workdir / f"{name}.out", "w")
        proc = subprocess.Popen(cmd, stdout=logs[name], stderr=subprocess.STDOUT, start_new_session=True)
        pids[name] = proc.pid
        (workdir / "pids.json").write_text(json.dumps(pids))
        return proc

    if not _munge_works():
        key = Path("/etc/munge/munge.key")
        if not key.exists():
            subprocess.run(["mungekey", "--create", f"--keyfile={key}"], check=True)
            shutil.chown(key, "munge", "munge")
        MUNGE_SOCKET.parent.mkdir(parents=True, exist_ok=True)
        shutil.chown(MUNGE_SOCKET.parent, "munge", "munge")
        MUNGE_SOCKET.parent.chmod(0o755)
        # setpriv execs munged, so the PID recorded is the daemon's own
        spawn("munged", ["setpriv", "--reuid=munge", "--regid=munge", "--init-groups", _sbin("munged"), "--foreground"])
        _wait(_munge_works, timeout, "munged", workdir)
    SLURM_CONF.parent.mkdir(parents=True, exist_ok=True)
    SLURM_CONF.write_text(slurm_conf(workdir))
    (workdir / "slurm.conf.written").write_text(str(SLURM_CONF))
    spawn("slurmctld", [_sbin("slurmctld"), "-D", "-i"])
    spawn("slurmd", [_sbin("slurmd"), "-D"])

    def idle():
        out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
        return out.returncode == 0 and out.stdout.strip() in {"idle", "mixed", "allocated"}

    _wait(idle, timeout, "slurmctld/slurmd", workdir)
    return pids


def _wait(ready, timeout, what, workdir):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.5)
    logs = "".join(f"--- {p.name}\n{p.read_text()[-2000:]}\n" for p in sorted(Path(workdir).glob("*.out")))
    raise RuntimeError(f"{what} did not come up within {timeout:.0f} s\n{logs}")


def stop(workdir: Path, timeout: float = 30) -> None:
    """Stop the daemons start() recorded in <workdir>/pids.json (slurmd, slurmctld, then munged) by PID, and
    remove the slurm.conf it wrote."""
    workdir = Path(workdir).resolve()
    pid_file = workdir / "pids.json"
    pids = json.loads(pid_file.read_text()) if pid_file.exists() else {}
    for name in ("slurmd", "slurmctld", "munged"):
        pid = pids.get(name)
        if pid is None:
            continue
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.2)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    marker = workdir / "slurm.conf.written"
    if marker.exists():
        Path(marker.read_text()).unlink(missing_ok=True)
        marker.unlink()
    pid_file.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)  # reap our own child, if it is one
        if finished == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").exists() and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def completed_jobs(workdir: Path) -> list[dict]:
    """The job-completion log as dicts (JobId, Name, JobState, WorkDir, ...), one per finished job."""
    log = Path(workdir) / "jobcomp.log"
    if not log.exists():
        return []
    return [
        dict(field.split("=", 1) for field in line.split() if "=" in field)
        for line in log.read_text().splitlines()
        if line.strip()
    ]


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in {"start", "stop", "install"}:
        sys.exit(f"usage: {sys.argv[0]} install|start|stop WORKDIR")
    action, where = sys.argv[1], Path(sys.argv[2])
    if action == "install":
        install()
    elif action == "start":
        print(json.dumps(start(where)))
    else:
        stop(where)
