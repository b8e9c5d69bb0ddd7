-- wrk script: POST NDJSON batches of packets to the batch route. The bodies come from a file written by
-- `bench/helpers.py gen-bodies` ("<length>\n<body>" records) from the same packets kcat produces; each wrk thread
-- takes every n-th body and cycles through its share. Requests are formatted once, in init.
-- Usage: wrk -t2 -c8 -d10s -s bench/batch.lua http://host:port/v1/packets:batch -- BODIES_FILE THREADS [CONTENT_TYPE]
-- (CONTENT_TYPE defaults to application/x-ndjson; bench/run's OTLP step posts application/x-protobuf to /v1/logs)
local threads = {}
local requests = {}
local next_request = 0

function setup(thread)
    thread:set("index", #threads)
    table.insert(threads, thread)
end

function init(args)
    local path, count = args[1], tonumber(args[2])
    local file = assert(io.open(path, "rb"))
    local data = file:read("*a")
    file:close()
    local headers = { ["Content-Type"] = args[3] or "application/x-ndjson" }
    local pos, i = 1, 0
    while pos <= #data do
        local newline = string.find(data, "\n", pos, true)
        local length = tonumber(string.sub(data, pos, newline - 1))
        if i % count == index then
            table.insert(requests, wrk.format("POST", nil, headers, string.sub(data, newline + 1, newline + length)))
        end
        pos = newline + 1 + length
        i = i + 1
    end
    assert(#requests > 0, "no bodies for thread " .. index .. " in " .. path)
end

function request()
    next_request = next_request % #requests + 1
    return requests[next_request]
end
