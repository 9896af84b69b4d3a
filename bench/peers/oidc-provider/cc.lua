-- wrk -s cc.lua: client_credentials token requests (bench-cc, client_secret_basic)
wrk.method = "POST"
wrk.body = "grant_type=client_credentials&scope=api"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic YmVuY2gtY2M6YmVuY2gtY2Mtc2VjcmV0"
