-- Fixed-window rate limits: every limit of one request counted and read in one call.
-- A limit counts from its first unit until its window ends, then starts again from zero.
-- Every request is counted, the refused ones too.
-- KEYS: per limit, its counter
-- ARGV: per limit, its amount, its window in seconds, and the request's cost against it
-- Returns per limit: 1 when the count stays within the amount (0: refused), what remains of
-- the amount, and milliseconds until the window ends.
local replies = {}
for i = 1, #ARGV / 3 do
  local key = KEYS[i]
  local amount = tonumber(ARGV[3 * i - 2])
  local cost = tonumber(ARGV[3 * i])
  local counted = redis.call('INCRBY', key, cost)
  if counted == cost then redis.call('EXPIRE', key, ARGV[3 * i - 1]) end
  local allowed = 0
  if counted <= amount then allowed = 1 end
  local ttl = tonumber(redis.call('PTTL', key))
  replies[#replies + 1] = allowed
  replies[#replies + 1] = math.max(0, amount - counted)
  replies[#replies + 1] = math.max(ttl, 0)
end
return replies
