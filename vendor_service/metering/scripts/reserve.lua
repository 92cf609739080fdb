-- Reserve the price of a request atomically, or answer why not.
-- KEYS, all of one API key (one hash tag, one cluster slot): 1 key hash, 2 holds hash,
--   3 leases zset, 4 idempotency hash (only when the request has an Idempotency-Key)
-- ARGV: 1 cost, 2 images, 3 texts, 4 lease ms, 5 reservation id, 6 body fingerprint,
--       7 idempotency ttl s
-- A hold is the field <reservation id> of the holds hash, "<cost> <images> <texts> <idem 1|0>";
-- its lease is the same member of the leases zset, scored by its deadline (ms, Redis' clock).
-- Returns {'ok', available after the hold, deadline ms} or {reason, detail}.
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local f = redis.call('HMGET', KEYS[1], 'budget', 'spent', 'reserved', 'revoked')
if not f[1] then return {'missing'} end
if f[4] == '1' then return {'revoked'} end
local idem = KEYS[4]
if idem then
  local r = redis.call('HMGET', idem, 'fingerprint', 'state', 'response', 'res_id')
  -- A pending record whose hold is gone (reaped after its process died) is free again.
  if r[1] and (r[2] == 'done' or redis.call('HEXISTS', KEYS[2], r[4]) == 1) then
    if r[1] ~= ARGV[6] then return {'reused'} end
    if r[2] == 'done' then return {'replay', r[3]} end
    return {'in_progress'}
  end
end
local available = tonumber(f[1]) - tonumber(f[2]) - tonumber(f[3])
if available < tonumber(ARGV[1]) then return {'insufficient', available} end
redis.call('HINCRBY', KEYS[1], 'reserved', ARGV[1])
local deadline = string.format('%d', now_ms + tonumber(ARGV[4]))
local has_idem = '0'
if idem then
  has_idem = '1'
  redis.call('HSET', idem, 'fingerprint', ARGV[6], 'state', 'pending', 'res_id', ARGV[5])
  redis.call('EXPIRE', idem, ARGV[7])
end
redis.call('HSET', KEYS[2], ARGV[5], ARGV[1] .. ' ' .. ARGV[2] .. ' ' .. ARGV[3] .. ' ' .. has_idem)
redis.call('ZADD', KEYS[3], deadline, ARGV[5])
return {'ok', available - tonumber(ARGV[1]), tonumber(deadline)}
