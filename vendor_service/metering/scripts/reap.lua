-- Refund the holds of one API key whose lease deadline has passed, whichever process made
-- them (it died holding them).
-- KEYS, all of one API key: 1 key hash, 2 holds hash, 3 leases zset
-- ARGV: 1 most holds to reap in one call
-- The Idempotency-Key record of a reaped hold stays pending: reserve.lua treats a pending
-- record whose hold is gone as free, so the request can run again.
-- Returns the number of holds refunded.
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', string.format('%d', now_ms),
                       'LIMIT', 0, tonumber(ARGV[1]))
local refunded = 0
for _, res_id in ipairs(due) do
  local hold = redis.call('HGET', KEYS[2], res_id)
  if hold then
    redis.call('HINCRBY', KEYS[1], 'reserved', '-' .. string.match(hold, '^(%d+)'))
    redis.call('HDEL', KEYS[2], res_id)
    refunded = refunded + 1
  end
  redis.call('ZREM', KEYS[3], res_id)
end
return refunded
