"""The official Kubernetes Python client against local-cluster: list, create, watch, delete.

Usage: python3 client_roundtrip.py KUBECONFIG
Prints one line per check; exits non-zero on the first failure.
"""
import sys
import threading

from kubernetes import client, config, watch

config.load_kube_config(config_file=sys.argv[1])
core = client.CoreV1Api()

nodes = core.list_node().items
oses = sorted(n.metadata.labels["kubernetes.io/os"] for n in nodes)
assert oses == ["linux", "linux", "windows", "windows"], oses
print("listed nodes:", ", ".join(n.metadata.name for n in nodes))

seen = []
start = core.list_namespaced_config_map("default").metadata.resource_version


def watch_config_maps():
    w = watch.Watch()
    for event in w.stream(core.list_namespaced_config_map, "default", resource_version=start, timeout_seconds=5):
        seen.append((event["type"], event["object"].metadata.name))
        if event["type"] == "DELETED":
            w.stop()


watcher = threading.Thread(target=watch_config_maps)
watcher.start()

body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="from-python", labels={"client": "python"}), data={"k": "v"})
created = core.create_namespaced_config_map("default", body)
assert created.metadata.uid, "server assigned a uid"
print("created", created.metadata.name, "rv", created.metadata.resource_version)

found = core.list_namespaced_config_map("default", label_selector="client=python").items
assert [c.metadata.name for c in found] == ["from-python"], found

core.delete_namespaced_config_map("from-python", "default")
try:
    core.read_namespaced_config_map("from-python", "default")
    raise AssertionError("still there after delete")
except client.exceptions.ApiException as e:
    assert e.status == 404, e.status
print("deleted; read answers 404")

watcher.join(timeout=10)
assert ("ADDED", "from-python") in seen and ("DELETED", "from-python") in seen, seen
print("watched:", seen)
