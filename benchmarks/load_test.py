"""Bounded load test of the HTTP service on loopback: throughput, p50/p99 latency, failures, server memory.

    .venv/bin/python benchmarks/load_test.py                      # starts `syrisign serve` itself
    .venv/bin/python benchmarks/load_test.py --lexicon DIR --duration 60 --clients 32 --json out.json
    .venv/bin/python benchmarks/load_test.py --url http://127.0.0.1:8000 --pid 1234   # a running server

Scenarios (each ``--duration`` seconds, POST /v1/translate, format mp4 unless ``--format``):

- ``cached``: ``--clients`` clients loop over a few headlines already translated once (cache hits);
- ``uncached``: ``--uncached-clients`` clients (default: the server's job slots) send headlines never seen
  before (a number in them changes every request), so every request plans, stitches, renders and encodes;
- ``uncached-queued``: the same with ``--clients`` clients: the latency then includes waiting for a slot;
- ``mixed``: ``--clients`` clients, ``--mix`` (default 0.9) of requests cached, the rest uncached;
- with ``--wrk``, ``cached (wrk)``: the cached scenario again with Debian's ``wrk`` as the client, which
  costs far less CPU per request than Python, leaving more of a small machine to the server.

A request fails when it gets no 200 answer. The server's resident memory (VmRSS, and the peak VmHWM,
from /proc/<pid>/status) is sampled throughout. Asyncio + httpx; the client runs on the same machine and
takes CPU from the server, so the figures are a lower bound for the server alone.
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

CACHED_TEXTS = ["وزارة الصحة", "وزارة الصحة تسجل 200 إصابة جديدة", "الطبيب يفحص الرئتين والقفص الصدري",
                "افتتاح مستشفى جديد في دمشق", "هيكل عظمي وجمجمة في المتحف", "الجهاز التنفسي والرئتان",
                "مستشفى دمشق يستقبل 50 مريضا", "العمود الفقري والقفص الصدري"]
# headlines of the kind the service is for; {n} makes each request new (numbers are signed from the lexicon)
UNCACHED_TEMPLATES = ["وزارة الصحة تسجل {n} إصابة جديدة", "افتتاح {n} مستشفى في دمشق",
                      "الطبيب يفحص {n} مريضا", "{n} حالة في قسم الرئتين"]


@dataclass
class Result:
    scenario: str
    clients: int
    seconds: float
    requests: int = 0
    failures: int = 0
    throughput: float = 0.0  # successful requests per second
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    cache: dict = field(default_factory=dict)  # X-SyriSign-Cache values seen
    statuses: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)  # a few failure messages
    server_cpu_ms_per_request: float = 0.0  # server CPU time (with its ffmpeg children) / requests
    client_cpu_ms_per_request: float = 0.0  # this load generator's own CPU time / requests
    server_timing_ms: dict = field(default_factory=dict)  # mean of each Server-Timing phase (uncached requests)
    by_cache: dict = field(default_factory=dict)  # "hit" / "miss" -> {"n", "p50_ms", "p99_ms"}


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    k = min(len(s) - 1, max(0, int(round(q / 100 * (len(s) - 1)))))
    return s[k]


class Memory:
    """Samples VmRSS / VmHWM of a process every ``every`` seconds."""

    def __init__(self, pid: int | None, every: float = 0.5) -> None:
        self.pid, self.every = pid, every
        self.peak_rss_mb = 0.0
        self.hwm_mb = 0.0
        self.last_rss_mb = 0.0

    def read(self) -> None:
        if not self.pid:
            return
        try:
            text = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return
        for line in text.splitlines():
            if line.startswith("VmRSS:"):
                self.last_rss_mb = int(line.split()[1]) / 1024
                self.peak_rss_mb = max(self.peak_rss_mb, self.last_rss_mb)
            elif line.startswith("VmHWM:"):
                self.hwm_mb = int(line.split()[1]) / 1024

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server and its finished children (ffmpeg encoders)."""
        if not self.pid:
            return 0.0
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime stime cutime cstime

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.read()
            try:
                await asyncio.wait_for(stop.wait(), self.every)
            except asyncio.TimeoutError:
                pass
        self.read()


async def run_scenario(url: str, name: str, clients: int, duration: float, texts, fmt: str,
                       timeout: float) -> Result:
    import httpx

    res = Result(name, clients, duration)
    latencies: list[float] = []
    timing: dict[str, list[float]] = {}
    per_cache: dict[str, list[float]] = {}
    deadline = time.perf_counter() + duration
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as client:
        async def worker(i: int) -> None:
            rng = random.Random(i)
            while time.perf_counter() < deadline:
                text = texts(rng)
                t0 = time.perf_counter()
                try:
                    r = await client.post("/v1/translate", json={"text": text, "method": "retrieval", "format": fmt})
                    ok = r.status_code == 200 and len(r.content) > 0
                    res.statuses[str(r.status_code)] = res.statuses.get(str(r.status_code), 0) + 1
                    c = r.headers.get("x-syrisign-cache", "-")
                    res.cache[c] = res.cache.get(c, 0) + 1
                    if c == "miss":
                        for part in r.headers.get("server-timing", "").split(","):
                            name_, _, dur = part.strip().partition(";dur=")
                            if dur:
                                timing.setdefault(name_, []).append(float(dur))
                    if not ok and len(res.errors) < 5:
                        res.errors.append(f"{r.status_code}: {r.text[:200]}")
                except httpx.HTTPError as e:
                    ok = False
                    res.statuses["exception"] = res.statuses.get("exception", 0) + 1
                    if len(res.errors) < 5:
                        res.errors.append(f"{type(e).__name__}: {e}")
                dt = time.perf_counter() - t0
                res.requests += 1
                if ok:
                    latencies.append(dt)
                    per_cache.setdefault(c, []).append(dt * 1000)
                else:
                    res.failures += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(clients)))
        res.seconds = time.perf_counter() - t0
    ms = [x * 1000 for x in latencies]
    res.server_timing_ms = {k: round(sum(v) / len(v), 1) for k, v in timing.items()}
    res.by_cache = {k: {"n": len(v), "p50_ms": round(percentile(v, 50), 1), "p99_ms": round(percentile(v, 99), 1)}
                    for k, v in per_cache.items()}
    res.throughput = len(latencies) / res.seconds if res.seconds else 0.0
    res.p50_ms, res.p90_ms, res.p99_ms = (round(percentile(ms, q), 1) for q in (50, 90, 99))
    res.max_ms = round(max(ms), 1) if ms else 0.0
    res.throughput = round(res.throughput, 2)
    res.seconds = round(res.seconds, 1)
    return res


def run_wrk(url: str, duration: float, clients: int, fmt: str, tmp: Path) -> Result:
    """The cached scenario with ``wrk`` (Debian's package: a C load generator, far cheaper per request than
    httpx, so more of the 2 cores go to the server). Percentiles from wrk's --latency histogram."""
    import re
    import resource
    import shutil

    exe = shutil.which("wrk")
    if not exe:
        raise SystemExit("wrk not found: apt-get install -y wrk (or leave out --wrk)")
    bodies = [json.dumps({"text": t, "format": fmt}) for t in CACHED_TEXTS]  # ASCII (\u escapes) for Lua
    script = tmp / "syrisign_wrk.lua"
    script.write_text(
        "local bodies = {" + ", ".join("[==[" + b + "]==]" for b in bodies) + "}\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i + 1\n"
        "  return wrk.format('POST', '/v1/translate', {['Content-Type'] = 'application/json'}, "
        "bodies[(i % #bodies) + 1])\n"
        "end\n")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([exe, "-t1", f"-c{clients}", f"-d{int(duration)}s", "--latency", "--timeout", "60s",
                          "-s", str(script), url], capture_output=True, text=True, check=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)

    def ms(value: str) -> float:
        n, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()
        return float(n) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]

    res = Result("cached (wrk)", clients, duration)
    res.requests = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    res.failures = (int(bad.group(1)) if bad else 0) + (sum(int(x) for x in sock.groups()) if sock else 0)
    dist = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M))
    res.p50_ms, res.p90_ms, res.p99_ms = (round(ms(dist[q]), 1) for q in ("50", "90", "99"))
    res.max_ms = round(ms(re.search(r"Latency\s+\S+\s+\S+\s+(\S+)", out).group(1)), 1)
    res.seconds = round(ms(re.search(r"requests in ([\d.]+(?:us|ms|s|m)),", out).group(1)) / 1000, 1)  # "1.00m"
    res.throughput = round((res.requests - res.failures) / res.seconds, 2)
    res.statuses = {"non-2xx": int(bad.group(1)) if bad else 0}
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    res.client_cpu_ms_per_request = round(1000 * cpu / max(1, res.requests), 2)
    return res


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(args) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [sys.executable, "-m", "syrisign", "serve", "--host", "127.0.0.1", "--port", str(port),
           "--jobs", str(args.jobs), "--log-level", "warning", "--timeout", str(args.timeout)]
    if args.lexicon:
        cmd += ["--lexicon", args.lexicon]
    log = open(args.server_log, "w") if args.server_log else subprocess.DEVNULL
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    return proc, f"http://127.0.0.1:{port}"


def wait_ready(url: str, proc: subprocess.Popen | None, limit: float = 900) -> dict:
    import httpx

    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            r = httpx.get(f"{url}/readyz", timeout=2)
            if r.status_code == 200:
                return r.json()
            if "could not load" in r.text:
                raise SystemExit(r.json()["message"])
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the server was not ready after {limit:.0f} s")


def machine_note() -> str:
    load = os.getloadavg()
    return f"{os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min) at the end"


async def main_async(args) -> dict:
    import httpx

    proc = None
    if args.url:
        url, pid = args.url.rstrip("/"), args.pid
    else:
        proc, url = start_server(args)
        pid = proc.pid
    memory = Memory(pid)
    try:
        t0 = time.perf_counter()
        ready = await asyncio.to_thread(wait_ready, url, proc)
        startup = time.perf_counter() - t0
        info = httpx.get(f"{url}/v1/info", timeout=10).json()
        memory.read()
        rss_ready = memory.last_rss_mb
        print(f"server ready in {startup:.1f} s (load {ready.get('load_seconds')} s), methods {ready['methods']}, "
              f"RSS {rss_ready:.0f} MB", file=sys.stderr)
        # prime the cache
        async with httpx.AsyncClient(base_url=url, timeout=args.timeout) as client:
            for t in CACHED_TEXTS:
                r = await client.post("/v1/translate", json={"text": t, "format": args.format})
                if r.status_code != 200:
                    raise SystemExit(f"priming failed for {t!r}: {r.status_code} {r.text[:200]}")
        counter = itertools.count(1 + random.Random(args.seed).randrange(50_000))  # new text per request

        def cached(rng):
            return rng.choice(CACHED_TEXTS)

        def uncached(rng):
            return rng.choice(UNCACHED_TEMPLATES).format(n=next(counter))

        def mixed(rng):
            return cached(rng) if rng.random() < args.mix else uncached(rng)

        plan = {"cached": (args.clients, cached), "uncached": (args.uncached_clients or args.jobs, uncached),
                "uncached-queued": (args.clients, uncached), "mixed": (args.clients, mixed)}
        stop = asyncio.Event()
        sampler = asyncio.create_task(memory.run(stop))
        results = []
        names = args.scenarios.split(",")
        if args.wrk:
            names.insert(names.index("cached") + 1 if "cached" in names else 0, "cached-wrk")
        for name in names:
            clients = args.clients if name == "cached-wrk" else plan[name][0]
            print(f"{name}: {clients} clients for {args.duration:g} s ...", file=sys.stderr)
            cpu0, own0 = memory.cpu_seconds(), time.process_time()
            if name == "cached-wrk":
                import tempfile
                with tempfile.TemporaryDirectory() as tmp:
                    r = await asyncio.to_thread(run_wrk, url, args.duration, clients, args.format, Path(tmp))
            else:
                r = await run_scenario(url, name, clients, args.duration, plan[name][1], args.format, args.timeout)
                if r.requests:
                    r.client_cpu_ms_per_request = round(1000 * (time.process_time() - own0) / r.requests, 2)
            if r.requests:
                r.server_cpu_ms_per_request = round(1000 * (memory.cpu_seconds() - cpu0) / r.requests, 2)
            results.append(r)
            print(f"  {r.requests} requests, {r.failures} failed, {r.throughput:.1f}/s, p50 {r.p50_ms:.0f} ms, "
                  f"p99 {r.p99_ms:.0f} ms, cache {r.cache}", file=sys.stderr)
        stop.set()
        await sampler
        stats = httpx.get(f"{url}/v1/info", timeout=10).json().get("stats", {})
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
    return {"url": url, "format": args.format, "duration": args.duration, "jobs": info["limits"]["jobs"],
            "methods": ready["methods"], "lexicon_entries": (info.get("lexicon") or {}).get("entries"),
            "startup_s": round(startup, 1), "rss_ready_mb": round(rss_ready), "rss_peak_mb": round(memory.peak_rss_mb),
            "vm_hwm_mb": round(memory.hwm_mb), "machine": machine_note(), "server_stats": stats,
            "results": [asdict(r) for r in results]}


def markdown(report: dict) -> str:
    lines = ["| scenario | clients | requests | failed | throughput (req/s) | p50 (ms) | p90 (ms) | p99 (ms) "
             "| server CPU ms/request | client CPU ms/request |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in report["results"]:
        lines.append(f"| {r['scenario']} | {r['clients']} | {r['requests']} | {r['failures']} | {r['throughput']:.1f} | "
                     f"{r['p50_ms']:.0f} | {r['p90_ms']:.0f} | {r['p99_ms']:.0f} | {r['server_cpu_ms_per_request']:.1f} | "
                     f"{r['client_cpu_ms_per_request']:.1f} |")
    for r in report["results"]:
        if len(r["by_cache"]) > 1:
            lines.append("")
            lines.append(f"{r['scenario']}: " + "; ".join(f"{k} {v['n']} requests, p50 {v['p50_ms']:.0f} ms, p99 "
                                                         f"{v['p99_ms']:.0f} ms" for k, v in r["by_cache"].items()) + ".")
    phases = [(r["scenario"], r["server_timing_ms"]) for r in report["results"] if r["server_timing_ms"]]
    if phases:
        lines.append("")
        lines.append("Uncached requests, mean time per phase in the server (Server-Timing): " + "; ".join(
            f"{name}: " + ", ".join(f"{k} {v:.0f} ms" for k, v in t.items()) for name, t in phases) + ".")
    lines.append("")
    lines.append(f"Server resident memory: {report['rss_ready_mb']} MB when ready, peak {report['rss_peak_mb']} MB "
                 f"(VmHWM {report['vm_hwm_mb']} MB); methods loaded: {', '.join(report['methods'])}; "
                 f"{report['jobs']} job slots; format {report['format']}; {report['duration']:g} s per scenario; "
                 f"{report['machine']}.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--url", help="a running server (default: start `syrisign serve` on a free port)")
    p.add_argument("--pid", type=int, help="the running server's process id, for its memory")
    p.add_argument("--lexicon", help="lexicon for the started server (default: the default lexicon)")
    p.add_argument("--jobs", type=int, default=2, help="job slots of the started server (default 2)")
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--uncached-clients", type=int, default=0, help="clients of the uncached scenario (default --jobs)")
    p.add_argument("--duration", type=float, default=60.0, help="seconds per scenario (default 60)")
    p.add_argument("--scenarios", default="cached,uncached,uncached-queued,mixed")
    p.add_argument("--mix", type=float, default=0.9, help="share of cached requests in the mixed scenario")
    p.add_argument("--format", default="mp4", choices=["mp4", "gif", "pose", "json"])
    p.add_argument("--timeout", type=float, default=120.0, help="client and server timeout (s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--wrk", action="store_true", help="also run the cached scenario with wrk (apt-get install wrk)")
    p.add_argument("--json", help="write the report here")
    p.add_argument("--server-log", help="the started server's log file")
    args = p.parse_args(argv)
    report = asyncio.run(main_async(args))
    if args.json:
        Path(args.json).write_text(json.dumps(report, ensure_ascii=False, indent=2))
    print(markdown(report))
    return 1 if any(r["failures"] for r in report["results"]) else 0


if __name__ == "__main__":
    sys.exit(main())
