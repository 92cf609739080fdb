-- Refund every reservation whose lease deadline has passed, whichever process made it.
-- KEYS: 1 leases zset
-- ARGV: 1 key prefix, 2 most reservations to reap in one call
-- Returns the number of reservations refunded.
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now_ms),
                       'LIMIT', 0, tonumber(ARGV[2]))
local refunded = 0
for _, res_id in ipairs(due) do
  local res_key = ARGV[1] .. 'res:' .. res_id
  local r = redis.call('HMGET', res_key, 'key_id', 'cost', 'idem')
  if r[1] then
    redis.call('HINCRBY', ARGV[1] .. 'key:' .. r[1], 'reserved', '-' .. r[2])
    if r[3] ~= '' then
      local idem = redis.call('HMGET', r[3], 'res_id', 'state')
      if idem[1] == res_id and idem[2] == 'pending' then redis.call('DEL', r[3]) end
    end
    redis.call('DEL', res_key)
    refunded = refunded + 1
  end
  redis.call('ZREM', KEYS[1], res_id)
end
return refunded
