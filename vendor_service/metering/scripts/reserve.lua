-- Reserve the price of a request atomically, or answer why not.
-- KEYS: 1 key hash, 2 leases zset, 3 reservation hash, 4 idempotency hash (unused if ARGV[7]~='1')
-- ARGV: 1 cost, 2 images, 3 texts, 4 lease ms, 5 key id, 6 reservation id,
--       7 has idempotency key ('1'/'0'), 8 body fingerprint, 9 idempotency ttl s
-- Returns {'ok', available after the hold, deadline ms} or {reason, detail}.
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local f = redis.call('HMGET', KEYS[1], 'budget', 'spent', 'reserved', 'revoked')
if not f[1] then return {'missing'} end
if f[4] == '1' then return {'revoked'} end
if ARGV[7] == '1' then
  local idem = redis.call('HMGET', KEYS[4], 'fingerprint', 'state', 'response')
  if idem[1] then
    if idem[1] ~= ARGV[8] then return {'reused'} end
    if idem[2] == 'done' then return {'replay', idem[3]} end
    return {'in_progress'}
  end
end
local available = tonumber(f[1]) - tonumber(f[2]) - tonumber(f[3])
if available < tonumber(ARGV[1]) then return {'insufficient', available} end
redis.call('HINCRBY', KEYS[1], 'reserved', ARGV[1])
local deadline = string.format('%d', now_ms + tonumber(ARGV[4]))
local idem_key = ''
if ARGV[7] == '1' then
  idem_key = KEYS[4]
  redis.call('HSET', KEYS[4], 'fingerprint', ARGV[8], 'state', 'pending', 'res_id', ARGV[6])
  redis.call('EXPIRE', KEYS[4], ARGV[9])
end
redis.call('HSET', KEYS[3], 'key_id', ARGV[5], 'cost', ARGV[1], 'images', ARGV[2],
           'texts', ARGV[3], 'idem', idem_key, 'deadline', deadline)
redis.call('ZADD', KEYS[2], deadline, ARGV[6])
return {'ok', available - tonumber(ARGV[1]), tonumber(deadline)}
