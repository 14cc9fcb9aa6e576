# wecom-oidc: the bridge (`wecom-oidc serve`, on Granian), also the WeCom emulator and
# the sample app for `docker compose --profile demo up`.
#
#   docker build -t wecom-oidc .
#   docker run --rm -p 8000:8000 -e WECOM_OIDC_ISSUER=... -e WECOM_OIDC_CLIENTS='[...]' \
#       -v wecom-oidc-keys:/etc/wecom-oidc/keys wecom-oidc
#
# Config comes from the environment (WECOM_OIDC_*) or a file named by WECOM_OIDC_CONFIG.

# --- build: install the package and its dependencies into a virtualenv --------------------
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Dependencies first, so a code change does not reinstall them. Every dependency ships
# wheels: no compiler is needed, in this stage or the next.
COPY pyproject.toml README.md ./
RUN mkdir wecom_oidc && touch wecom_oidc/__init__.py && pip install . && pip uninstall -y wecom-oidc
COPY wecom_oidc ./wecom_oidc
RUN pip install --no-deps . && pip uninstall -y pip setuptools

# --- runtime: the virtualenv only, run as an unprivileged user -----------------------------
FROM python:3.11-slim AS runtime
LABEL org.opencontainers.image.title="wecom-oidc" \
      org.opencontainers.image.description="OpenID Connect provider for WeCom login" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 wecom-oidc \
 && useradd --system --uid 10001 --gid wecom-oidc --home-dir /var/lib/wecom-oidc \
      --no-create-home --shell /usr/sbin/nologin wecom-oidc \
 && mkdir -p /etc/wecom-oidc/keys /var/lib/wecom-oidc \
 && chown wecom-oidc:wecom-oidc /etc/wecom-oidc/keys /var/lib/wecom-oidc \
 && chmod 0700 /etc/wecom-oidc/keys
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    WECOM_OIDC_SERVER__BIND=0.0.0.0:8000 \
    WECOM_OIDC_SERVER__LOG_FORMAT=json \
    WECOM_OIDC_KEYS__DIR=/etc/wecom-oidc/keys \
    WECOM_OIDC_STORE__URL=sqlite:////var/lib/wecom-oidc/wecom-oidc.db
USER 10001:10001
WORKDIR /var/lib/wecom-oidc
EXPOSE 8000
# The server stops gracefully on SIGTERM: workers finish their requests within
# [server] graceful_timeout (give the container's stop timeout a little more).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-m", "wecom_oidc.ops.probe"]
ENTRYPOINT ["wecom-oidc"]
CMD ["serve"]
