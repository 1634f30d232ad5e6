-- wrk script of bench/api_latency.py: each connection replays its own list of requests and times every answer.
--
-- Run with one connection per thread (wrk -t N -c N), so a thread's request() and response() alternate and the
-- time between them is that request's latency. PATRON_WRK_PLAN names the plan files (PLAN.<thread number>, one
-- request a line: endpoint, user, path, token, tab-separated); PATRON_WRK_OUT is where done() writes one line per
-- answer (endpoint, user, status, latency in microseconds, the server's Server-Timing in ms). PATRON_WRK_CLOSE=1
-- asks the server to close the connection after each answer, so every request opens a new one.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } patron_timespec;
int clock_gettime(int clk_id, patron_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local clock = ffi.new("patron_timespec")

local function now_us()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, clock)
  return tonumber(clock.tv_sec) * 1000000 + tonumber(clock.tv_nsec) / 1000
end

local threads = {}

function setup(thread)
  thread:set("number", #threads)
  table.insert(threads, thread)
end

function init(args)
  requests, names, users, results = {}, {}, {}, {}
  local plan = assert(io.open(os.getenv("PATRON_WRK_PLAN") .. "." .. number, "r"))
  for line in plan:lines() do
    local name, user, path, token = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)$")
    table.insert(names, name)
    table.insert(users, user)
    local headers = { ["Authorization"] = "Bearer " .. token, ["Accept"] = "application/json" }
    if os.getenv("PATRON_WRK_CLOSE") == "1" then
      headers["Connection"] = "close"
    end
    table.insert(requests, wrk.format("GET", path, headers))
  end
  plan:close()
  sent, current, started = 0, 0, 0
end

function request()
  current = sent % #requests + 1
  sent = sent + 1
  started = now_us()
  return requests[current]
end

function response(status, headers, body)
  local elapsed = now_us() - started
  local timing = headers["Server-Timing"] or headers["server-timing"] or ""
  table.insert(results, table.concat({ names[current], users[current], status, string.format("%.0f", elapsed),
                                       timing:match("dur=([%d%.]+)") or "nan" }, "\t"))
end

function done(summary, latency, requests)
  local out = assert(io.open(os.getenv("PATRON_WRK_OUT"), "w"))
  for _, thread in ipairs(threads) do
    for _, line in ipairs(thread:get("results")) do
      out:write(line, "\n")
    end
  end
  out:write(string.format("#summary\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", summary.duration, summary.requests,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.status, summary.errors.timeout))
  out:close()
end
