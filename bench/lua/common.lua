-- Shared by every run: counts non-2xx responses per thread and prints one JSON summary line.
-- load.py prepends the operation's own request() to this file.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

-- LuaJIT starts every thread from the same seed: without this, both threads would ask for
-- the same ids in the same order.
function init(args)
  math.randomseed(tid * 7919 + os.time())
end

non2xx = 0

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("non2xx")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"non2xx": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    bad, e.connect + e.read + e.write + e.timeout))
end
