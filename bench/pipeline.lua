-- wrk script for bench/http.sh's pipelined runs (TechEmpower plaintext style): every write carries
-- `depth` requests (default 16) back to back; wrk counts each response.
--   wrk -s bench/pipeline.lua URL -- 16
local batch

init = function(args)
  local depth = tonumber(args[1]) or 16
  local reqs = {}
  for i = 1, depth do reqs[i] = wrk.format() end
  batch = table.concat(reqs)
end

request = function()
  return batch
end
