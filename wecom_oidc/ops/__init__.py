"""Operations: /readyz and /metrics, JSON logs with request ids, `wecom-oidc doctor`.

Kept light: `ops.logging` is imported by the CLI before the server forks its workers, and must not
pull in prometheus_client before PROMETHEUS_MULTIPROC_DIR is set (ops.metrics does).
"""
