-- Sliding-window-counter rate limits: every limit of one request counted and read in one call.
-- A limit counts in windows of its length: the current window's counter, and the previous
-- window's counter weighted by how much of it still overlaps the sliding window (its time
-- to live over the window's length). O(1) work per limit; approximate at window edges.
-- KEYS: per limit, its previous window's counter then its current window's counter
-- ARGV: per limit, its amount, its window in seconds, and the request's cost against it
-- Returns per limit: 1 when the cost was counted (0: refused, nothing counted for this limit),
-- what remains of the amount, and milliseconds until the count next drops (0 when empty).
local function ttl_ms(key)
  local ttl = tonumber(redis.call('PTTL', key))
  if ttl < 0 then return 0 end
  return ttl
end

local function count(key)
  return tonumber(redis.call('GET', key)) or 0
end

-- A current counter older than one window becomes the previous one; a new current counter
-- starts that expires one window after it.
local function shift(previous, current, window)
  local current_ttl = ttl_ms(current)
  if current_ttl > 0 and current_ttl < window then
    redis.call('RENAME', current, previous)
    redis.call('SET', current, 0, 'PX', current_ttl + window)
  end
end

local function weighted(previous, current, window)
  return count(previous) * ttl_ms(previous) / window + count(current)
end

local replies = {}
for i = 1, #ARGV / 3 do
  local previous, current = KEYS[2 * i - 1], KEYS[2 * i]
  local amount = tonumber(ARGV[3 * i - 2])
  local window = tonumber(ARGV[3 * i - 1]) * 1000
  local cost = tonumber(ARGV[3 * i])
  shift(previous, current, window)
  local allowed = 0
  if cost <= amount and math.floor(weighted(previous, current, window)) + cost <= amount then
    allowed = 1
    if redis.call('EXISTS', current) == 1 then
      redis.call('INCRBY', current, cost)
    else
      redis.call('SET', current, cost, 'PX', window * 2)
    end
  end
  local remaining = math.max(0, amount - math.floor(weighted(previous, current, window)))
  -- The next moment the weighted count falls by one: a unit of the previous window fading
  -- out, or the current window ending.
  local reset = -1
  local previous_count, current_count = count(previous), count(current)
  if previous_count > 0 then reset = ttl_ms(previous) % (window / previous_count) end
  if current_count > 0 then
    local current_reset = ttl_ms(current) % window
    if reset < 0 or current_reset < reset then reset = current_reset end
  end
  replies[#replies + 1] = allowed
  replies[#replies + 1] = remaining
  replies[#replies + 1] = math.floor(math.max(reset, 0))
end
return replies
