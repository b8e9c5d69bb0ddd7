-- wrk script: POST one packet per request with a unique id (so analysers count each once), optionally paced.
-- Usage: wrk -t1 -c64 -d10s -s bench/e2e.lua http://host:port/v1/packets -- RUN_ID [DELAY_MS]
-- With DELAY_MS each connection waits that long after a response before its next request: a paced, cheap client
-- (wrk's C event loop; the body is one string.format), so the pipeline under test keeps the CPUs.
local threads = {}
local counter = 0
local levels = { "INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR" }

function setup(thread)
    thread:set("tid", #threads)
    table.insert(threads, thread)
end

function init(args)
    run = args[1] or "e2e"
    pause = tonumber(args[2] or "0")
    headers = { ["Content-Type"] = "application/json" }
    now = os.time() * 1000
end

function request()
    counter = counter + 1
    local body = string.format(
        '{"id":"%s-%d-%d","timestamp":%d,"source":"load-%d","messages":[{"level":"%s","message":"request %d served in %d ms","timestamp":%d}]}',
        run, tid, counter, now, counter % 8, levels[counter % 6 + 1], counter % 1000, counter % 97, now)
    return wrk.format("POST", nil, headers, body)
end

function delay()
    return pause
end
