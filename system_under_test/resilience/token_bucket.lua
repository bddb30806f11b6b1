-- Token bucket, one atomic step: refill for the time passed, then take `cost` tokens if there are
-- enough. The same arithmetic as token_bucket.py's take(); Redis' clock, so replicas agree.
-- KEYS[1]: the bucket (a hash).  ARGV: capacity, refill per second, cost, [now: tests only]
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
if now == nil then
  local clock = redis.call('TIME')
  now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
end

-- Round-trips doubles exactly (tostring keeps 14 digits: drift of a millionth of a token per step).
local function exact(x)
  return string.format('%.17g', x)
end

local stored = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'since', 'requests', 'rejected')
local tokens = tonumber(stored[1])
local ts = tonumber(stored[2])
local since = tonumber(stored[3]) or now
local requests = tonumber(stored[4]) or 0
local rejected = tonumber(stored[5]) or 0
if tokens == nil then
  tokens = capacity
  ts = now
end
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)

local allowed = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  rejected = rejected + 1
end
requests = requests + 1

redis.call('HSET', KEYS[1], 'tokens', exact(tokens), 'ts', exact(now), 'since', exact(since),
  'requests', requests, 'rejected', rejected)
-- A full bucket is the same as no bucket: let Redis forget it once it would be full again.
redis.call('EXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate) + 60)
return {allowed, exact(tokens), exact(now)}
