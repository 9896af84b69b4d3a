"""What every Doorman app uses and which knows no app: database and cache helpers, API errors
and paging, request metadata (client IP), middleware, metrics, health checks, the PostgreSQL
engine and the OpenAPI schema's shared shapes. It imports no Doorman app and not `config`
(the import-linter contract in pyproject.toml says so)."""
