-- Each request carries a token string the gateway has not seen (TOKENS_FILE, one per line).
local tokens = {}
local n, i = 0, 0
local threads = 0

function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

function init(args)
  for line in io.lines(os.getenv("TOKENS_FILE")) do
    n = n + 1
    tokens[n] = line
  end
  -- Each wrk thread walks its own part of the file.
  i = id * math.floor(n / 2)
end

function request()
  i = i % n + 1
  return wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. tokens[i] })
end
