"""Training on N processes (``distill.processes`` > 1): the stage runs itself again under torch's launcher
(``python -m torch.distributed.run``, N workers on 127.0.0.1), DDP with gloo on the CPU and nccl on GPUs.
The stage's own process prepares the checkpoints and waits; the first worker evaluates and writes every output."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys

import psutil
import torch

log = logging.getLogger(__name__)

STAGE_PID = "DISTILL_STAGE_PID"  # set for the workers: the stage process that launched them
STAGE_MODULE = "tasks.student"  # the stage entry point each worker runs again, as one rank


def worker_rank(processes: int) -> int | None:
    """This process's rank when it is one of the workers ``run_workers`` launched, else None."""
    if STAGE_PID not in os.environ:
        return None
    if os.environ.get("WORLD_SIZE") != str(processes):
        raise RuntimeError(
            f"this training worker is one of {os.environ.get('WORLD_SIZE')} processes, and distill.processes is "
            f"{processes}: start the training with `python -m tasks.student NAME`, which launches its own workers"
        )
    return int(os.environ["RANK"])


def end_with_the_launcher() -> None:
    """Make the kernel kill this worker when its parent, torch's launcher, dies (Linux).

    The launcher starts each worker in a session of its own, so a SIGKILL of the stage's process group
    (which reaches the stage and the launcher, and leaves the launcher no chance to stop its workers)
    would leave the workers training on, writing checkpoints beside the run that resumes them. A worker
    whose stage is already gone when it gets here exits at once.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if not psutil.pid_exists(int(os.environ[STAGE_PID])):
        raise SystemExit("the stage that launched this training worker has ended")


def loopback_interface() -> str:
    """The network interface holding 127.0.0.1, where the workers' gloo and nccl sockets listen."""
    for interface, addresses in psutil.net_if_addrs().items():
        if any(address.address == "127.0.0.1" for address in addresses):
            return interface
    return "lo"


def run_workers(name: str, processes: int) -> None:
    """Train ``name`` on ``processes`` workers of torch's launcher, each running this stage as one DDP rank.

    The workers connect through 127.0.0.1: the launcher's rendezvous at a free port, gloo's and nccl's
    sockets on the loopback interface (the launcher's stores, torch's ``TCPStore``, listen on every
    interface whatever address they are given: see the README's security notes). On the CPU each worker gets
    its share of this process's torch threads, so N workers on N cores do not oversubscribe them; with CUDA
    each worker takes a GPU. A worker that fails ends the others and the stage, with the launcher's report of
    which rank failed, and exit status 1.
    """
    if torch.cuda.is_available() and processes > torch.cuda.device_count():
        print(
            f"error: distill.processes: {processes} processes need as many GPUs, and {torch.cuda.device_count()} "
            f"are visible (CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')})",
            file=sys.stderr,
        )
        raise SystemExit(2)
    threads = max(1, torch.get_num_threads() // processes)
    interface = loopback_interface()
    env = {
        **os.environ,
        STAGE_PID: str(os.getpid()),
        "OMP_NUM_THREADS": str(threads),
        "GLOO_SOCKET_IFNAME": interface,
        "NCCL_SOCKET_IFNAME": interface,
    }
    if not torch.cuda.is_available():
        # accelerate names rank r's CPU `cpu:r`, a location torch.load cannot map a checkpoint's optimizer to (resume)
        env["ACCELERATE_TORCH_DEVICE"] = "cpu"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes=1",
        f"--nproc-per-node={processes}",
        "--rdzv-backend=c10d",
        "--rdzv-endpoint=127.0.0.1:0",
        "--local-addr=127.0.0.1",
        "--max-restarts=0",
        "-m",
        STAGE_MODULE,
        name,
    ]
    log.info("training %s on %d processes, %d torch threads each: %s", name, processes, threads, " ".join(command[1:]))
    status = subprocess.run(command, env=env, check=False).returncode
    if status != 0:
        print(
            f"error: student {name}: training on {processes} processes failed (torch.distributed.run exited with "
            f"status {status}; its report above names the failed rank and its error)",
            file=sys.stderr,
        )
        raise SystemExit(1)
