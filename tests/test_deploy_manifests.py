"""The baked project's Kubernetes manifests: valid for the API server, and consistent with the
image (uid, port, probes) and with `Settings` (every configured key is a field).

kubernetes-validate checks them offline against the bundled OpenAPI schemas, strictly: an
unknown or misspelt field is an error, as `kubectl apply --validate=strict` makes it one.
"""

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.baking import bake
from tests.production import dockerfile_instructions, load_yaml, make_recipe, settings_fields

# The oldest Kubernetes still commonly run, and the newest schema bundled.
KUBERNETES_VERSIONS = ("1.31", "1.37")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bake(tmp_path_factory.mktemp("k8s"))


@pytest.fixture(scope="module")
def k8s(project: Path) -> Path:
    return project / "deploy" / "k8s"


def manifests(k8s: Path) -> dict[str, dict[str, Any]]:
    """Each resource the kustomization applies, by kind; a Deployment other than the API's as
    `Deployment/<component>` (worker, scheduler)."""
    resources = load_yaml(k8s / "kustomization.yaml")["resources"]
    found = {}
    for doc in (load_yaml(k8s / name) for name in resources):
        component = doc["metadata"].get("labels", {}).get("app.kubernetes.io/component")
        kind = doc["kind"]
        key = f"{kind}/{component}" if kind == "Deployment" and component != "api" else kind
        assert key not in found, key
        found[key] = doc
    return found


def validate(paths: list[Path], version: str) -> subprocess.CompletedProcess[str]:
    tool = Path(sys.executable).parent / "kubernetes-validate"
    assert tool.exists(), "kubernetes-validate is missing: run `make install`"
    return subprocess.run(
        [str(tool), "--strict", "--quiet", "-k", version, *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_manifest_validates_strictly(k8s: Path, version: str) -> None:
    resources = load_yaml(k8s / "kustomization.yaml")["resources"]
    on_disk = {p.name for p in k8s.glob("*.yaml")} - {"kustomization.yaml"}

    assert set(resources) == on_disk
    result = validate([k8s / name for name in resources], version)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_misspelt_field_is_refused(k8s: Path, tmp_path: Path) -> None:
    text = (k8s / "deployment.yaml").read_text().replace("readOnlyRootFilesystem", "readOnlyRootFs")
    (tmp_path / "deployment.yaml").write_text(text)

    result = validate([tmp_path / "deployment.yaml"], KUBERNETES_VERSIONS[-1])

    assert result.returncode != 0
    assert "readOnlyRootFs" in result.stdout + result.stderr


def test_config_and_secret_hold_only_settings_and_every_required_one(
    project: Path, k8s: Path
) -> None:
    fields = settings_fields(project)
    docs = manifests(k8s)
    config, secret = docs["ConfigMap"]["data"], docs["Secret"]["stringData"]

    assert set(config) | set(secret) <= set(fields)
    assert not set(config) & set(secret)
    assert {name for name, has_default in fields.items() if not has_default} <= set(secret)
    # Credentials live in the Secret, never in the ConfigMap (a Redis URL may hold a password).
    assert {"DATABASE_URL", "SECRET_KEY", "REDIS_URL"} <= set(secret)
    assert config["ENVIRONMENT"] == "production"
    assert all(isinstance(value, str) for value in {**config, **secret}.values())


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = doc["spec"]["template"]["spec"]
    return spec


def image_uid_and_port(project: Path) -> tuple[int, int]:
    instructions = dockerfile_instructions(project)
    [user] = [args for op, args in instructions if op == "USER"]
    [port] = re.findall(r"\bPORT=(\d+)", " ".join(a for op, a in instructions if op == "ENV"))
    return int(user.split(":")[0]), int(port)


@pytest.mark.parametrize("kind", ["Deployment", "Job", "Deployment/worker", "Deployment/scheduler"])
def test_pods_run_as_the_images_user_read_only_and_read_the_config(
    project: Path, k8s: Path, kind: str
) -> None:
    docs = manifests(k8s)
    spec = pod_spec(docs[kind])
    [container] = spec["containers"]
    uid, _ = image_uid_and_port(project)

    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == uid
    assert spec["automountServiceAccountToken"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    [tmp] = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
    assert {"name": tmp["name"], "emptyDir": {"sizeLimit": "64Mi"}} in spec["volumes"]
    assert {"requests", "limits"} <= set(container["resources"])
    assert container["envFrom"] == [
        {"configMapRef": {"name": docs["ConfigMap"]["metadata"]["name"]}},
        {"secretRef": {"name": docs["Secret"]["metadata"]["name"]}},
    ]
    [image] = [entry["name"] for entry in load_yaml(k8s / "kustomization.yaml")["images"]]
    assert container["image"] == image


def test_the_api_has_replicas_probes_and_a_service(project: Path, k8s: Path) -> None:
    docs = manifests(k8s)
    deployment, service = docs["Deployment"], docs["Service"]
    spec = pod_spec(deployment)
    [container] = spec["containers"]
    _, port = image_uid_and_port(project)

    assert deployment["spec"]["replicas"] >= 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert container["ports"] == [{"name": "http", "containerPort": port}]
    for probe, path in (
        ("startupProbe", "/health/live"),
        ("livenessProbe", "/health/live"),
        ("readinessProbe", "/health/ready"),
    ):
        assert container[probe]["httpGet"] == {"path": path, "port": "http"}, probe
    # uvicorn's 20 s drain plus the preStop pause must fit before the kubelet's SIGKILL.
    assert spec["terminationGracePeriodSeconds"] >= 20 + 5
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"] == labels
    assert service["spec"]["selector"] == labels
    assert service["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http"}]
    assert docs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == labels


def test_the_migration_job_runs_once_before_the_rollout(k8s: Path) -> None:
    job = manifests(k8s)["Job"]
    spec = pod_spec(job)
    [container] = spec["containers"]

    assert container["command"] == ["alembic", "upgrade", "head"]
    assert spec["restartPolicy"] == "Never"
    assert job["spec"]["backoffLimit"] <= 3
    assert "kubectl delete job" in (k8s / "migrate-job.yaml").read_text()


@pytest.mark.parametrize("component", ["worker", "scheduler"])
def test_the_jobs_processes_run_as_make_does_on_the_apps_image(
    project: Path, k8s: Path, component: str
) -> None:
    docs = manifests(k8s)
    deployment = docs[f"Deployment/{component}"]
    spec = pod_spec(deployment)
    [container] = spec["containers"]
    command, defaults = make_recipe(project, component)

    assert container["command"] == command
    assert container["image"] == pod_spec(docs["Deployment"])["containers"][0]["image"]
    assert "ports" not in container
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"] == labels
    assert labels["app.kubernetes.io/component"] == component
    # Neither behind the Service nor counted in the API's disruption budget.
    assert docs["Service"]["spec"]["selector"] != labels
    assert docs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] != labels
    if component == "worker":
        assert deployment["spec"]["replicas"] == 2
        grace = int(command[command.index("--wait-tasks-timeout") + 1])
        assert grace == int(defaults["JOB_GRACE_SECONDS"])
        # Running jobs get their grace before the kubelet's SIGKILL.
        assert spec["terminationGracePeriodSeconds"] > grace
    else:
        # One scheduler, and never an old and a new one at once: each would enqueue every tick.
        assert deployment["spec"]["replicas"] == 1
        assert deployment["spec"]["strategy"] == {"type": "Recreate"}
        # It sets no SIGTERM handler: as PID 1 it would ignore SIGTERM until the SIGKILL.
        assert spec["shareProcessNamespace"] is True


def test_names_come_from_the_slug(tmp_path: Path) -> None:
    k8s = bake(tmp_path, project_name="Order Desk") / "deploy" / "k8s"
    docs = manifests(k8s)

    assert docs["Deployment"]["metadata"]["name"] == "order-desk"
    assert docs["Secret"]["metadata"]["name"] == "order-desk-secrets"
    assert docs["Deployment/worker"]["metadata"]["name"] == "order-desk-worker"
    assert docs["Deployment/scheduler"]["metadata"]["name"] == "order-desk-scheduler"
    assert yaml.safe_load((k8s / "kustomization.yaml").read_text())["images"][0]["newName"] == (
        "registry.example.com/order-desk"
    )
