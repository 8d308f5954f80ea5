-- A form POST to an OAuth endpoint (token, introspection): the body from FORM_BODY; the
-- client's Authorization header comes with -H. Counts statuses like login.lua.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = os.getenv("FORM_BODY")
