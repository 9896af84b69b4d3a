-- Shared by every workload script (loaded with dofile): per-thread ids, token lists, and the
-- one JSON line `done()` prints. Each script lists its per-thread counters in COUNTERS.
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

-- This thread's share of the lines of $BENCH_TOKENS: line i goes to thread i mod BENCH_THREADS,
-- so threads never share a token (a rotated refresh token must have one owner).
function thread_tokens()
  local count = tonumber(os.getenv("BENCH_THREADS"))
  local mine, i = {}, 0
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    if line ~= "" then
      if i % count == id then table.insert(mine, line) end
      i = i + 1
    end
  end
  return mine
end

local function json_escape(s)
  return (tostring(s):gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end))
end

function done(summary, latency, requests)
  local counters = {}
  for _, name in ipairs(COUNTERS or {}) do
    local total = 0
    for _, t in ipairs(threads) do total = total + (tonumber(t:get(name)) or 0) end
    table.insert(counters, string.format('"%s": %d', json_escape(name), total))
  end
  local e = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_s": %.3f, "rps": %.2f, "bytes": %d, '
      .. '"latency_ms": {"p50": %.3f, "p90": %.3f, "p99": %.3f, "mean": %.3f, "max": %.3f}, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d, "status": %d}, '
      .. '"counters": {%s}}\n',
    summary.requests, seconds, summary.requests / seconds, summary.bytes,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.mean / 1000, latency.max / 1000,
    e.connect, e.read, e.write, e.timeout, e.status, table.concat(counters, ", ")))
  if on_done then on_done(threads) end
end
