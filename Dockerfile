# The provisioner image for production: one image, and the command picks the role
# (api, worker, beat, db upgrade). docker-compose.yml shows how the roles fit together.
#
# No secrets are baked in: the secret key, the database password and the SSH key that
# reaches the servers all come from the environment and mounted files at run time.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The runner needs the OpenSSH client tools: ansible-runner hands the key to ssh-agent,
# Ansible connects with ssh, onboarding a server reads its host key with ssh-keyscan,
# and ssh-keygen makes a key where none is given. restic: the control plane prunes the repositories
# of REST backup targets, where the servers may only append.
RUN apt-get update \
    && apt-get install -y --no-install-recommends openssh-client restic \
    && rm -rf /var/lib/apt/lists/*

# A fixed uid lets operators grant the mounted SSH key to this user alone (chown 10001).
# Its home is the data dir, so Ansible's ~/.ansible lands on the data volume too.
RUN groupadd --system --gid 10001 provisioner \
    && useradd --system --uid 10001 --gid provisioner \
        --home-dir /var/lib/provisioner --shell /usr/sbin/nologin provisioner \
    && install -d -o provisioner -g provisioner -m 0750 /var/lib/provisioner

# Only what the wheel is built from; the playbooks and service templates go inside the
# package (see pyproject.toml), so the installed command finds them without a checkout.
WORKDIR /usr/src/provisioner
# The pinned, hash-checked packages first (a layer of their own), then the wheel without adding any.
COPY requirements/runtime.txt requirements/runtime.txt
RUN pip install --require-hashes -r requirements/runtime.txt
COPY pyproject.toml README.md ./
COPY provisioner ./provisioner
COPY api ./api
COPY playbooks ./playbooks
COPY service_templates ./service_templates
RUN pip install --no-deps .

USER provisioner
WORKDIR /var/lib/provisioner
ENV HOME=/var/lib/provisioner \
    PROVISIONER_DATA_DIR=/var/lib/provisioner

EXPOSE 8000
# Without a command the container serves the API; compose sets the role per service.
# Run it with an init (compose: init: true, docker run --init): Ansible leaves ssh
# processes behind that PID 1 has to reap.
CMD ["provisioner", "api", "--host", "0.0.0.0", "--port", "8000"]
