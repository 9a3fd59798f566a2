"""What people typically do with the official Kubernetes Python client, against local-cluster:
create from a multi-document YAML file, CRUD on core, apps and batch kinds, wait on a watch,
exec and port-forward through kubernetes.stream.

Usage: python3 typical_uses.py KUBECONFIG YAML_FILE
Prints one line per check; exits non-zero on the first failure.
"""
import sys
import time

from kubernetes import client, config, utils, watch
from kubernetes.stream import portforward, stream

config.load_kube_config(config_file=sys.argv[1])
api = client.ApiClient()
core = client.CoreV1Api()
apps = client.AppsV1Api()
batch = client.BatchV1Api()

created = utils.create_from_yaml(api, sys.argv[2])
kinds = sorted(type(o).__name__ for group in created for o in group)
print("created from YAML:", ", ".join(kinds))
assert kinds == ["V1ConfigMap", "V1Deployment", "V1Job", "V1Namespace"], kinds

# Wait with a watch for the Deployment's pod to be Ready.
w = watch.Watch()
pod_name = None
for event in w.stream(core.list_namespaced_pod, "py", label_selector="app=calc", timeout_seconds=60):
    pod = event["object"]
    ready = any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))
    if ready:
        pod_name = pod.metadata.name
        w.stop()
assert pod_name, "the calculator pod became ready"
print("ready:", pod_name)

# Apps: read, patch, scale.
deployment = apps.read_namespaced_deployment("calc", "py")
assert deployment.spec.template.spec.containers[0].image.endswith("calculator:0.1.0")
apps.patch_namespaced_deployment("calc", "py", {"metadata": {"labels": {"patched": "yes"}}})
apps.patch_namespaced_deployment_scale("calc", "py", {"spec": {"replicas": 2}})
scale = apps.read_namespaced_deployment_scale("calc", "py")
assert scale.spec.replicas == 2, scale
print("patched and scaled the Deployment to", scale.spec.replicas)

# Batch: the Job runs to completion.
deadline = time.time() + 60
while time.time() < deadline:
    job = batch.read_namespaced_job_status("once", "py")
    if job.status.succeeded == 1:
        break
    time.sleep(0.5)
assert job.status.succeeded == 1, job.status
print("job succeeded:", job.status.succeeded)

# Exec through the WebSocket stream.
out = stream(
    core.connect_get_namespaced_pod_exec, pod_name, "py",
    command=["sh", "-c", "echo $SETTING from $POD_NAME"],
    stderr=True, stdin=False, stdout=True, tty=False,
)
assert out.strip() == f"fast from {pod_name}", out
print("exec said:", out.strip())

# An interactive shell: this client writes stdin as text frames.
shell = stream(
    core.connect_get_namespaced_pod_exec, pod_name, "py",
    command=["sh"], stderr=True, stdin=True, stdout=True, tty=False,
    _preload_content=False,
)
shell.write_stdin("echo typed $((6*7))\n")
line = shell.readline_stdout(timeout=10)
assert line == "typed 42", line
shell.write_stdin("exit\n")
shell.update(timeout=5)
shell.close()
print("shell said:", line)

# Port-forward to the calculator's port.
forward = portforward(core.connect_get_namespaced_pod_portforward, pod_name, "py", ports="3000")
sock = forward.socket(3000)
sock.setblocking(True)
sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: calc\r\nConnection: close\r\n\r\n")
answer = b""
while True:
    chunk = sock.recv(4096)
    if not chunk:
        break
    answer += chunk
sock.close()
assert answer.startswith(b"HTTP/1.1 200"), answer
print("port-forward answered:", answer.split(b"\r\n")[0].decode())

# Core: update and delete.
cm = core.read_namespaced_config_map("settings", "py")
cm.data["mode"] = "slow"
core.replace_namespaced_config_map("settings", "py", cm)
assert core.read_namespaced_config_map("settings", "py").data["mode"] == "slow"
batch.delete_namespaced_job("once", "py", propagation_policy="Background")
core.delete_namespace("py")
print("replaced, deleted")
