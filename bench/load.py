"""Load from a separate process: ``wrk`` (Debian package ``wrk``) with a small Lua script.

Every event id is ``<prefix>-<thread>-<counter>[-<i>]``, unique within a run; the prefix
names the phase and a per-run nonce, so phases never collide with each other.
"""

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

WRK_MISSING = (
    "wrk is not installed: the benchmark drives the API with wrk from a separate process.\n"
    "Install it with:  apt-get install -y wrk"
)
REQUEST_TIMEOUT = "30s"

LUA = r"""
-- args: mode prefix customers batch hot_customer threads api_key customer_prefix
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
  -- Several API processes: the threads take their ports in turn (CREDITGATE_BENCH_PORTS).
  local ports = {}
  for port in string.gmatch(os.getenv("CREDITGATE_BENCH_PORTS") or "", "%d+") do
    table.insert(ports, port)
  end
  if #ports > 0 then
    thread.addr = wrk.lookup("127.0.0.1", ports[(#threads - 1) % #ports + 1])[1]
  end
end

function init(args)
  mode = args[1]
  prefix = args[2]
  customers = tonumber(args[3])
  batch = tonumber(args[4])
  hot = args[5]
  nthreads = tonumber(args[6])
  counter = 0
  wrk.headers["Authorization"] = "Bearer " .. args[7]
  customer_prefix = args[8]
  wrk.headers["Content-Type"] = "application/json"
end

local function event(id, customer)
  return '{"id":"' .. id .. '","customer":"' .. customer ..
    '","event_type":"tokens","properties":{"count":1000,"model":"gpt-4o"}}'
end

function request()
  counter = counter + 1
  local spread = customer_prefix .. string.format("%d", (counter * nthreads + tid) % customers)
  if mode == "balance" then
    return wrk.format("GET", "/v1/customers/" .. spread .. "/balance")
  end
  local customer = spread
  if mode == "hot" then customer = hot end
  local id = prefix .. "-" .. tid .. "-" .. string.format("%d", counter)
  local body
  if batch <= 1 then
    body = '{"events":[' .. event(id, customer) .. ']}'
  else
    local parts = {}
    for i = 1, batch do parts[i] = event(id .. "-" .. i, customer) end
    body = '{"events":[' .. table.concat(parts, ",") .. ']}'
  end
  return wrk.format("POST", "/v1/events", nil, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    errors: dict[str, int]
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


def wrk_path() -> str | None:
    return shutil.which("wrk")


def run_wrk(
    base_url: str,
    *,
    mode: str,
    prefix: str,
    api_key: str,
    seconds: int,
    connections: int = 16,
    threads: int = 2,
    customer_prefix: str,
    customers: int = 1,
    batch: int = 1,
    hot_customer: str = "",
    ports: list[int] | None = None,
) -> WrkResult:
    """``mode``: ``events`` (spread over customers ``<customer_prefix><n>``), ``hot`` (one
    customer) or ``balance``.
    ``ports``: several API processes on 127.0.0.1, thread ``i`` connecting to port
    ``i mod len(ports)`` (give at least as many threads as ports)."""
    wrk = wrk_path()
    if wrk is None:
        raise RuntimeError(WRK_MISSING)
    with tempfile.TemporaryDirectory(prefix="creditgate-wrk-") as tmp:
        script = Path(tmp) / "creditgate.lua"
        script.write_text(LUA)
        cmd = [
            wrk, "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
            "--timeout", REQUEST_TIMEOUT, "-s", str(script), base_url,
            "--", mode, prefix, str(customers), str(batch), hot_customer or "-",
            str(threads), api_key, customer_prefix,
        ]  # fmt: skip
        env = {**os.environ, "CREDITGATE_BENCH_PORTS": ",".join(map(str, ports or []))}
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    for line in result.stdout.splitlines():
        if line.startswith("WRKJSON "):
            data = json.loads(line.removeprefix("WRKJSON "))
            break
    else:
        raise RuntimeError(f"no summary in wrk's output:\n{result.stdout}\n{result.stderr}")
    return WrkResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        errors={k: data[k] for k in ("connect", "read", "write", "status", "timeout") if data[k]},
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
    )
