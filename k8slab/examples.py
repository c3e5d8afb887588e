"""Mirrors: (no upstream file) the manifests the notebooks and exercises use, as ordinary Kubernetes YAML."""

NGINX = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: 3
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        ports:
        - name: http
          containerPort: 80
        resources:
          requests:
            cpu: 100m
            memory: 64Mi
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
  - name: http
    port: 80
    targetPort: http
"""


def tour_cluster(seed: int = 0, settle: bool = True):
    """The tour's cluster: 3 workers, the nginx Deployment and its Service, settled."""
    from .cluster import Cluster

    c = Cluster(nodes=3, seed=seed)
    c.apply(NGINX)
    if settle:
        c.settle()
    return c
