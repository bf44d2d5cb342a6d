-- wrk script for every scenario of bench/run.py, chosen by BENCH_SCENARIO.
-- Each thread numbers its requests, so emails are unique without any
-- coordination: PREFIX-THREAD-COUNTER@load.example.

local scenario = os.getenv("BENCH_SCENARIO") or "health"
local api_key = os.getenv("BENCH_API_KEY") or ""
local prefix = os.getenv("BENCH_PREFIX") or "load"
local memberships = os.getenv("BENCH_MEMBERSHIPS") or ""
local extra_membership = os.getenv("BENCH_EXTRA_MEMBERSHIP") or ""
local seeded = tonumber(os.getenv("BENCH_SEEDED") or "0")
local thread_count = tonumber(os.getenv("BENCH_THREADS") or "1")

local json_headers = {
  ["Content-Type"] = "application/json",
  ["X-API-Key"] = api_key,
}
local key_headers = { ["X-API-Key"] = api_key }

local threads = {}
local next_tid = 0

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  non2xx = 0
  statuses = {}
  sample = ""
end

-- Seeded members in turn, each thread on its own stride, so that
-- add-membership grants to a different member every time until it wraps.
local function seeded_email()
  local i = ((counter - 1) * thread_count + tid) % seeded + 1
  return "seed" .. i .. "@bench.example"
end

local function create_body(notify)
  local email = prefix .. "-" .. tid .. "-" .. counter .. "@load.example"
  return '{"email":"' .. email .. '","first_name":"Load","last_name":"Test",'
    .. '"memberships":[' .. memberships .. '],"notify":' .. notify .. '}'
end

function request()
  counter = counter + 1
  if scenario == "health" then
    return wrk.format("GET", "/health")
  elseif scenario == "insert" then
    local body = '{"value":"' .. prefix .. "-" .. tid .. "-" .. counter .. '"}'
    return wrk.format("POST", "/bench/insert", json_headers, body)
  elseif scenario == "create" then
    return wrk.format("POST", "/api/v1/members", json_headers, create_body("false"))
  elseif scenario == "create_notify" then
    return wrk.format("POST", "/api/v1/members", json_headers, create_body("true"))
  elseif scenario == "add_membership" then
    local body = '{"email":"' .. seeded_email() .. '","membership_id":'
      .. extra_membership .. '}'
    return wrk.format("POST", "/api/v1/members/add-membership", json_headers, body)
  elseif scenario == "flood" then
    -- A different wrong key each time, as a guesser sends them.
    return wrk.format("GET", "/api/v1/memberships?opm_api_key=mg_guess-" .. tid
      .. "-" .. counter)
  elseif scenario == "get_member" then
    local email = seeded_email():gsub("@", "%%40")
    return wrk.format("GET", "/api/v1/members?email=" .. email, key_headers)
  end
  error("unknown BENCH_SCENARIO " .. scenario)
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    statuses[status] = (statuses[status] or 0) + 1
    if sample == "" then
      sample = string.sub(body or "", 1, 300)
    end
  end
end

local function json_string(s)
  return '"' .. s:gsub('\\', '\\\\'):gsub('"', '\\"'):gsub('[%c]', ' ') .. '"'
end

function done(summary, latency, requests)
  local total_non2xx = 0
  local by_status = {}
  local first_sample = ""
  for _, thread in ipairs(threads) do
    total_non2xx = total_non2xx + thread:get("non2xx")
    for status, count in pairs(thread:get("statuses")) do
      by_status[status] = (by_status[status] or 0) + count
    end
    if first_sample == "" then
      first_sample = thread:get("sample")
    end
  end
  local codes = {}
  for status, count in pairs(by_status) do
    codes[#codes + 1] = '"' .. status .. '":' .. count
  end
  local e = summary.errors
  io.write("BENCH_RESULT {",
    '"requests":', summary.requests, ",",
    '"duration_us":', summary.duration, ",",
    '"non2xx":', total_non2xx, ",",
    '"statuses":{', table.concat(codes, ","), "},",
    '"sample":', json_string(first_sample), ",",
    '"socket_errors":{"connect":', e.connect, ',"read":', e.read,
    ',"write":', e.write, ',"timeout":', e.timeout, "},",
    '"latency_us":{"p50":', latency:percentile(50),
    ',"p90":', latency:percentile(90),
    ',"p99":', latency:percentile(99),
    ',"max":', latency.max, ',"mean":', latency.mean, "}}\n")
end
