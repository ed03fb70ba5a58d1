-- One limiter check, atomic: every layer of one request in one call.
--
-- KEYS: one bucket per limited layer, then the identity's violation bucket and its
--       kill-switch latch. All of them carry the same hash tag.
-- ARGV: 1 mode ("check" or "peek"), 2 shadow ("1" or "0"),
--       3 and 4 the time as seconds and nanoseconds (both empty: the server's clock),
--       5 violation interval in ns, 6 violation units (0: one rejection trips),
--       then per layer: interval in ns (-1: never refills), burst, cost.
--
-- A bucket is its theoretical arrival time "SECONDS NANOS"; a missing key is full.
-- Times are split in seconds and nanoseconds because Lua numbers are doubles: every
-- sum below stays under 2^53 ns (the client refuses buckets holding more).
--
-- Returns {status, layer, wait, remaining, limit, reset, breach, now_s, now_ns}:
-- status 1 allowed (and charged), 0 rejected, 2 shadow-rejected; layer is the
-- 1-based index of the layer with the longest wait; -1 stands for "never".

local n = #KEYS - 2
local now_s, now_ns
if ARGV[3] == '' then
  local t = redis.call('TIME')
  now_s = tonumber(t[1])
  now_ns = tonumber(t[2]) * 1000
else
  now_s = tonumber(ARGV[3])
  now_ns = tonumber(ARGV[4])
end
local NEVER = -1
local NONE = 4294967295

local function longer(a, b)
  if a == NEVER or b == NEVER then return NEVER end
  if a > b then return a end
  return b
end

local function ahead_of(key)
  local v = redis.call('GET', key)
  if not v then return 0 end
  local s, ns = string.match(v, '^(%d+) (%d+)$')
  if not s then return 0 end
  local a = (tonumber(s) - now_s) * 1e9 + (tonumber(ns) - now_ns)
  if a < 0 then return 0 end
  return a
end

local function units(free, interval)
  local u = math.floor(free / interval)
  if u * interval > free then u = u - 1 end
  return u
end

local function store(key, ahead)
  local total = now_ns + ahead
  local carry = math.floor(total / 1e9)
  local value = string.format('%d %d', now_s + carry, total - carry * 1e9)
  local ttl = math.ceil(ahead / 1e6) + 1
  -- Under a given time (tests) the server's expiry clock does not follow it.
  if ARGV[3] ~= '' then ttl = ttl + 600000 end
  redis.call('SET', key, value, 'PX', ttl)
end

local function tally()
  return { rem = NONE, lim = NONE, reset = 0 }
end
local function add(t, rem, lim, reset)
  if rem < t.rem then t.rem = rem; t.lim = lim end
  t.reset = longer(t.reset, reset)
end

local after, as_is = tally(), tally()
local refused, wait = 0, 0
local writes = {}
for i = 1, n do
  local base = 6 + (i - 1) * 3
  local interval = tonumber(ARGV[base + 1])
  local burst = tonumber(ARGV[base + 2])
  local cost = tonumber(ARGV[base + 3])
  if interval < 0 then
    local used = redis.call('EXISTS', KEYS[i]) == 1
    if used then add(as_is, 0, burst, NEVER) else add(as_is, burst, burst, 0) end
    if used and cost > 0 then
      if refused == 0 or wait ~= NEVER then refused = i; wait = NEVER end
    elseif cost > 0 then
      add(after, burst - cost, burst, NEVER)
      writes[#writes + 1] = { KEYS[i], NEVER }
    else
      if used then add(after, 0, burst, NEVER) else add(after, burst, burst, 0) end
    end
  else
    local capacity = interval * burst
    local ahead = ahead_of(KEYS[i])
    add(as_is, units(capacity - ahead, interval), burst, ahead)
    local next = ahead + cost * interval
    if next <= capacity then
      add(after, units(capacity - next, interval), burst, next)
      if cost > 0 then writes[#writes + 1] = { KEYS[i], next } end
    else
      local w = next - capacity
      if refused == 0 or (wait ~= NEVER and w > wait) then refused = i; wait = w end
    end
  end
end

if refused == 0 then
  if ARGV[1] == 'check' then
    for _, w in ipairs(writes) do
      if w[2] == NEVER then redis.call('SET', w[1], 'once') else store(w[1], w[2]) end
    end
  end
  return { 1, 0, 0, after.rem, after.lim, after.reset, 0, now_s, now_ns }
end

if ARGV[2] == '1' then
  return { 2, refused, wait, as_is.rem, as_is.lim, as_is.reset, 0, now_s, now_ns }
end

local breach = 0
local violations, latch = KEYS[n + 1], KEYS[n + 2]
if ARGV[1] == 'check' and redis.call('EXISTS', latch) == 0 then
  local v_interval = tonumber(ARGV[5])
  local v_units = tonumber(ARGV[6])
  local trip = true
  if v_units > 0 then
    local next = ahead_of(violations) + v_interval
    if next <= v_interval * v_units then
      store(violations, next)
      trip = false
    end
  end
  if trip then
    redis.call('SET', latch, string.format('%d %d', now_s, now_ns))
    redis.call('DEL', violations)
    breach = 1
  end
end
return { 0, refused, wait, as_is.rem, as_is.lim, as_is.reset, breach, now_s, now_ns }
