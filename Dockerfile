# The app image: daphne on uvloop (inswing_realtime/serve.py) serving HTTP and the socket.
# The phoenix JS client comes from npm.
FROM node:20-slim AS js
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM python:3.11-slim
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
RUN SECRET_KEY=build-only DEBUG=0 python manage.py collectstatic --no-input
EXPOSE 8000
# backlog and handshake timeout: a reconnect storm queues instead of failing (bench/README.md)
CMD ["python", "-m", "inswing_realtime.serve", \
     "-e", "tcp:port=8000:backlog=4096", "--websocket_connect_timeout", "30", \
     "--proxy-headers", "inswing_realtime.asgi:application"]
# Ready: PostgreSQL and Redis answer and the process is not draining (coaching/realtime/health.py).
HEALTHCHECK --interval=5s --timeout=3s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=3)"]
