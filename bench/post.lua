-- wrk script: POST one ~200-byte packet (JSON) per request, the same body for every request.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"id":"bench-0001","timestamp":1732400000000,"source":"web-7","messages":[{"level":"INFO","message":"GET /api/orders/1234 served in 12 ms","timestamp":1732400000000,"attributes":{"region":"eu-1","pod":"api-7f9c"}}]}'
