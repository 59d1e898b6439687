# The app image: daphne on uvloop (inswing_realtime/serve.py) serving HTTP and the socket.
# The phoenix JS client comes from npm. `--target proxy`: nginx in front (deploy/nginx/);
# `--target turn`: coturn for calls (deploy/coturn/).
FROM node:20-slim AS js
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM python:3.11-slim AS app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml ./
COPY inswing_realtime ./inswing_realtime
COPY coaching ./coaching
RUN pip install --no-cache-dir .
COPY manage.py ./
COPY templates ./templates
COPY static ./static
COPY --from=js /app/node_modules/phoenix ./node_modules/phoenix
COPY --from=js /app/node_modules/uplot ./node_modules/uplot
RUN SECRET_KEY=build-only DEBUG=0 python manage.py collectstatic --no-input
# Uploaded swings (docker-compose mounts one volume here for every app process and nginx).
ENV MEDIA_ROOT=/app/media
RUN mkdir -p /app/media
EXPOSE 8000
# backlog and handshake timeout: a reconnect storm queues instead of failing (bench/README.md).
# Behind proxies, NUM_PROXIES says how far X-Forwarded-For is trusted (inswing_realtime/proxies.py).
CMD ["python", "-m", "inswing_realtime.serve", \
     "-e", "tcp:port=8000:backlog=4096", "--websocket_connect_timeout", "30", \
     "inswing_realtime.asgi:application"]
# Ready: PostgreSQL and Redis answer and the process is not draining (coaching/realtime/health.py).
HEALTHCHECK --interval=5s --timeout=3s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=3)"]

# nginx in front of the app processes (docker-compose's `proxy`): Debian's nginx, the
# app's collected static files, and the configuration rendered from deploy/nginx/ at start
# from NGINX_UPSTREAMS, NGINX_LISTEN, TLS_CERTIFICATE and TLS_CERTIFICATE_KEY.
FROM python:3.11-slim AS proxy
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx \
    && rm -rf /var/lib/apt/lists/*
COPY deploy/nginx /app/deploy/nginx
COPY --from=app /app/staticfiles /app/staticfiles
ENV NGINX_LISTEN=8080 STATIC_ROOT=/app/staticfiles MEDIA_ROOT=/app/media
EXPOSE 8080
CMD ["sh", "-c", "python /app/deploy/nginx/render.py -o /etc/nginx/nginx.conf && exec nginx -e stderr"]
# Ready when some app process is (nginx passes /readyz on until one answers 200).
HEALTHCHECK --interval=5s --timeout=3s --retries=3 \
  CMD ["python", "/app/deploy/nginx/render.py", "--probe"]

# coturn for calls (docker-compose's `turn`): Debian's package, the configuration rendered
# from deploy/coturn/ at start from RTC_TURN_SECRET and TURN_* (deploy/coturn/render.py).
FROM python:3.11-slim AS turn
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends coturn \
    && rm -rf /var/lib/apt/lists/*
COPY deploy/coturn /app/deploy/coturn
USER nobody
EXPOSE 3478/udp 3478/tcp
CMD ["sh", "-c", "python /app/deploy/coturn/render.py -o /tmp/turnserver.conf && exec turnserver -c /tmp/turnserver.conf"]
# Healthy while coturn answers a STUN Binding request.
HEALTHCHECK --interval=5s --timeout=3s --retries=3 \
  CMD ["python", "/app/deploy/coturn/render.py", "--probe"]

# The default target: the app.
FROM app
