-- A login flood: every request is a password check (argon2). Prints the status counts.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":"load@example.test","password":"load-password-1"}'

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

counts = {}
function response(status)
  counts[status] = (counts[status] or 0) + 1
end

function done()
  local total = {}
  for _, t in ipairs(threads) do
    local c = t:get("counts")
    for k, v in pairs(c) do total[k] = (total[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(total) do table.insert(parts, k .. "=" .. v) end
  table.sort(parts)
  print("statuses: " .. table.concat(parts, " "))
end
