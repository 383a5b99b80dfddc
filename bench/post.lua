-- wrk script for bench/load.py and bench/client_ceiling.py (run by bench/wrk.py, not by hand):
--   wrk ... -s bench/post.lua URL -- BODY_FILE TOKENS_PREFIX|- CASE
-- POSTs the body in BODY_FILE. With TOKENS_PREFIX, wrk thread k reads its own pre-generated JWTs, one per
-- line, from TOKENS_PREFIX.k and spends one per request (a fresh JWT per call; none is made while timing).
-- Counts responses by HTTP status and prints one line "BENCH_JSON {...}" at the end for bench/wrk.py.

local threads = {}
local thread_count = 0

function setup(thread)
   thread:set("id", thread_count)
   thread_count = thread_count + 1
   table.insert(threads, thread)
end

function init(args)
   local file = assert(io.open(args[1], "rb"))
   body = file:read("*a")
   file:close()
   headers = {["Content-Type"] = "application/json", ["X-Bench-Case"] = args[3]}
   tokens = {}
   if args[2] ~= "-" then
      for line in io.lines(args[2] .. "." .. id) do
         tokens[#tokens + 1] = line
      end
   end
   next_token = 1
   statuses = {}
   exhausted = 0
   without_token = wrk.format("POST", wrk.path, headers, body)
end

function request()
   if #tokens == 0 then
      return without_token
   end
   local token = tokens[next_token]
   if token == nil then
      -- out of tokens: counted and reported (the run is then invalid), never silently replayed
      exhausted = exhausted + 1
      return without_token
   end
   next_token = next_token + 1
   headers["Authorization"] = "Bearer " .. token
   return wrk.format("POST", wrk.path, headers, body)
end

function response(status, response_headers, response_body)
   statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
   local counts, exhausted_total = {}, 0
   for _, thread in ipairs(threads) do
      for status, n in pairs(thread:get("statuses")) do
         counts[status] = (counts[status] or 0) + n
      end
      exhausted_total = exhausted_total + thread:get("exhausted")
   end
   local parts = {}
   for status, n in pairs(counts) do
      parts[#parts + 1] = string.format('"%d":%d', status, n)
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
      '"connect":%d,"read":%d,"write":%d,"timeout":%d,"exhausted":%d,"statuses":{%s}}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
      e.connect, e.read, e.write, e.timeout, exhausted_total, table.concat(parts, ",")))
end
