"""Reads DIR/cluster.env, the shell variables scripts/local-cluster.sh writes once a cluster
serves (`export NAME=VALUE` per line: STRAND_BOOTSTRAP, STRAND_NODE_<id>_ADDR, ..._METRICS, ...),
for the Python tests that start a cluster with that script."""


def read_cluster_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if "=" in line and not line.startswith("#"):
                key, value = line.split("=", 1)
                env[key.replace("export ", "", 1).strip()] = value.strip("'\"")
    return env
