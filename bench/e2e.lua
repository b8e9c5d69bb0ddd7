-- wrk script: POST one packet per request with a unique id (so analysers count each once), optionally at a fixed rate.
-- Usage: wrk -t1 -c64 -d10s -s bench/e2e.lua http://host:port/v1/packets -- RUN_ID [RATE]
-- RATE (requests/s for the whole run; one wrk thread): request n is due at start + n/RATE; a connection that is
-- free earlier waits for its slot, one that is late sends at once (the schedule is kept, so a stall is followed by
-- catch-up, as an open-loop client would; lateness beyond 100 ms is forgiven). 0 or absent: flat out.
-- The clock is clock_gettime(CLOCK_MONOTONIC) through LuaJIT's ffi (wrk embeds LuaJIT).
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } logdist_timespec;
int clock_gettime(int clock, logdist_timespec *tp);
]]
local ts = ffi.new("logdist_timespec")
local function now_ms()
    ffi.C.clock_gettime(1, ts)
    return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local threads = {}
local counter = 0
local levels = { "INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR" }

function setup(thread)
    thread:set("tid", #threads)
    table.insert(threads, thread)
end

function init(args)
    run = args[1] or "e2e"
    rate = tonumber(args[2] or "0")
    headers = { ["Content-Type"] = "application/json" }
    now = os.time() * 1000
    interval = rate > 0 and 1000 / rate or 0
    due = nil
end

function request()
    counter = counter + 1
    local body = string.format(
        '{"id":"%s-%d-%d","timestamp":%d,"source":"load-%d","messages":[{"level":"%s","message":"request %d served in %d ms","timestamp":%d}]}',
        run, tid, counter, now, counter % 8, levels[counter % 6 + 1], counter % 1000, counter % 97, now)
    return wrk.format("POST", nil, headers, body)
end

function delay()
    if interval == 0 then return 0 end
    local t = now_ms()
    if due == nil or due < t - 100 then due = t end
    local wait = due - t
    due = due + interval
    if wait <= 0 then return 0 end
    return math.floor(wait + 0.5)
end
