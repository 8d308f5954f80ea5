//! The Helm chart (`deploy/helm/portcullis`): `helm lint --strict`, `helm template` with the
//! CI values files validated by `kubernetes-validate --strict` against the oldest and newest
//! Kubernetes the chart claims, the rendered objects checked against each other (selectors,
//! probes, security, secrets kept out of ConfigMaps, the replica guard), the alert rules
//! checked and fired by promtool, and the probes' paths asked of the real binary. Runs in the
//! SQLite pass only.

use crate::harness::*;
use serde::Deserialize;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const KUBERNETES: [&str; 2] = ["1.27.0", "1.37.0"];
/// The CI values files: none (the defaults), PostgreSQL with replicas and the autoscaler, TLS
/// with an Ingress and the Prometheus Operator's objects.
const VALUES: [Option<&str>; 3] = [None, Some("ci/postgres-ha.yaml"), Some("ci/tls-ingress.yaml")];
/// Secret values of `ci/postgres-ha.yaml`: in the Secret, nowhere else.
const SECRETS: [&str; 4] = [
    "ci-jwt-secret-that-is-long-enough-0123456789",
    "ci-db-password",
    "ci-smtp-password",
    "ci-google-client-secret",
];

fn chart() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/helm/portcullis")
}

fn tool(name: &str) -> Option<String> {
    let there = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        there || std::env::var_os("PORTCULLIS_REQUIRE_APPS").is_none(),
        "{name} is required (PORTCULLIS_REQUIRE_APPS is set; .ci/run installs it)"
    );
    if !there {
        eprintln!("SKIPPED: {name} is not installed");
    }
    there.then(|| name.to_string())
}

/// `helm template` of the chart with a values file and `--set`s: the YAML, or helm's error.
fn render(helm: &str, values: Option<&str>, sets: &[&str]) -> Result<String, String> {
    let mut c = Command::new(helm);
    c.current_dir(chart()).args(["template", "rel", ".", "--namespace", "auth"]);
    if let Some(v) = values {
        c.args(["-f", v]);
    }
    for s in sets {
        c.args(["--set", s]);
    }
    let o = c.output().unwrap();
    if o.status.success() {
        Ok(String::from_utf8_lossy(&o.stdout).to_string())
    } else {
        Err(String::from_utf8_lossy(&o.stderr).to_string())
    }
}

fn documents(yaml: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(yaml)
        .map(|d| Value::deserialize(d).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

/// Whether every `key: value` of `selector` is among `labels`.
fn selects(selector: &Value, labels: &Value) -> bool {
    let sel = selector.as_object().unwrap();
    !sel.is_empty() && sel.iter().all(|(k, v)| labels[k] == *v)
}

#[test]
fn the_chart_lints_renders_and_validates_against_the_oldest_and_newest_kubernetes() {
    if crate::ON_POSTGRES {
        return;
    }
    let (Some(helm), Some(validate)) = (tool("helm"), tool("kubernetes-validate")) else {
        return;
    };
    let mut matrix = Vec::new();
    for values in VALUES {
        let mut lint = Command::new(&helm);
        lint.current_dir(chart()).args(["lint", "--strict", "."]);
        if let Some(v) = values {
            lint.args(["-f", v]);
        }
        let o = lint.output().unwrap();
        assert!(o.status.success(), "helm lint {values:?}:\n{}", String::from_utf8_lossy(&o.stdout));
        let yaml = render(&helm, values, &[]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rendered.yaml");
        std::fs::write(&file, &yaml).unwrap();
        for k in KUBERNETES {
            let o = Command::new(&validate)
                .args(["--strict", "--quiet", "-k", k])
                .arg(&file)
                .output()
                .unwrap();
            let said = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
            assert!(o.status.success() && !said.contains("ERROR"), "{values:?} on {k}:\n{said}");
            let kinds: Vec<String> = documents(&yaml).iter().map(|d| d["kind"].as_str().unwrap().to_string()).collect();
            matrix.push(format!("{:<22} k8s {k}: valid ({})", values.unwrap_or("(defaults)"), kinds.join(", ")));
        }
    }
    eprintln!("{}", matrix.join("\n"));
}

#[test]
fn the_rendered_objects_fit_together_and_keep_secrets_out_of_config_maps() {
    if crate::ON_POSTGRES {
        return;
    }
    let Some(helm) = tool("helm") else {
        return;
    };
    for values in VALUES {
        let docs = documents(&render(&helm, values, &[]).unwrap());
        let at = values.unwrap_or("(defaults)");
        let deploy = of_kind(&docs, "Deployment")[0];
        let pod = &deploy["spec"]["template"];
        let labels = &pod["metadata"]["labels"];
        assert!(selects(&deploy["spec"]["selector"]["matchLabels"], labels), "{at}: deployment selector");
        let services = of_kind(&docs, "Service");
        assert_eq!(services.len(), 2, "{at}: the proxy's and the admin listener's");
        for s in &services {
            assert!(selects(&s["spec"]["selector"], labels), "{at}: {} selector", s["metadata"]["name"]);
            for p in s["spec"]["ports"].as_array().unwrap() {
                let target = &p["targetPort"];
                let ports = pod["spec"]["containers"][0]["ports"].as_array().unwrap();
                assert!(ports.iter().any(|c| c["name"] == *target), "{at}: port {target}");
            }
        }
        let c = &pod["spec"]["containers"][0];
        // Probes: started and live on /healthz, ready on /readyz, all on the admin port.
        for (probe, path) in [("startupProbe", "/healthz"), ("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
            assert_eq!(c[probe]["httpGet"]["path"], path, "{at}: {probe}");
            assert_eq!(c[probe]["httpGet"]["port"], "admin", "{at}: {probe}");
        }
        let admin = c["ports"].as_array().unwrap().iter().find(|p| p["name"] == "admin").unwrap();
        assert_eq!(admin["containerPort"], 9090);
        // Locked down: not root, read-only root, no capabilities, the runtime's seccomp.
        let psc = &pod["spec"]["securityContext"];
        assert_eq!((psc["runAsNonRoot"].as_bool(), psc["runAsUser"].as_u64()), (Some(true), Some(10001)), "{at}");
        assert_eq!(psc["seccompProfile"]["type"], "RuntimeDefault");
        let csc = &c["securityContext"];
        assert_eq!(csc["readOnlyRootFilesystem"], true);
        assert_eq!(csc["allowPrivilegeEscalation"], false);
        assert_eq!(csc["capabilities"]["drop"], serde_json::json!(["ALL"]));
        // The drain fits: preStop pause + server.grace_period < terminationGracePeriodSeconds.
        let grace = pod["spec"]["terminationGracePeriodSeconds"].as_u64().unwrap();
        assert_eq!(c["lifecycle"]["preStop"]["exec"]["command"], serde_json::json!(["sleep", "5"]));
        let config_map = of_kind(&docs, "ConfigMap")[0];
        let config = config_map["data"]["portcullis.yaml"].as_str().unwrap();
        assert!(config.contains("grace_period: 10s") && grace > 15, "{at}: grace {grace}");
        assert!(pod["metadata"]["annotations"]["checksum/config"].as_str().is_some_and(|s| s.len() == 64));
        // Secrets: in the Secret, read from files; never in a ConfigMap or a plain env value.
        for cm in of_kind(&docs, "ConfigMap") {
            let text = cm.to_string();
            for s in SECRETS {
                assert!(!text.contains(s), "{at}: {s} in a ConfigMap");
            }
        }
        for e in c["env"].as_array().unwrap() {
            let name = e["name"].as_str().unwrap();
            assert!(name.ends_with("_FILE"), "{at}: {name} is not read from a file");
            assert!(e["value"].as_str().unwrap().starts_with("/run/secrets/portcullis/"));
        }
        if values == Some("ci/postgres-ha.yaml") {
            let secret = of_kind(&docs, "Secret")[0];
            use base64::Engine;
            let plain: Vec<String> = secret["data"]
                .as_object()
                .unwrap()
                .values()
                .map(|v| {
                    let bytes = base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap()).unwrap();
                    String::from_utf8_lossy(&bytes).to_string()
                })
                .collect();
            for s in SECRETS {
                assert!(plain.iter().any(|p| p.contains(s)), "{s} not in the Secret");
            }
            assert!(c["env"].to_string().contains("PORTCULLIS_OAUTH_GOOGLE_SECRET_FILE"));
            // Several pods: a disruption budget, an autoscaler on the deployment, spread.
            let pdb = of_kind(&docs, "PodDisruptionBudget")[0];
            assert!(selects(&pdb["spec"]["selector"]["matchLabels"], labels));
            let hpa = of_kind(&docs, "HorizontalPodAutoscaler")[0];
            assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], deploy["metadata"]["name"]);
            assert!(deploy["spec"]["replicas"].is_null(), "the autoscaler owns the count");
            let spread = &pod["spec"]["topologySpreadConstraints"][0];
            assert!(selects(&spread["labelSelector"]["matchLabels"], labels));
        } else {
            assert!(of_kind(&docs, "PodDisruptionBudget").is_empty(), "{at}: one pod, no budget");
        }
        if values == Some("ci/tls-ingress.yaml") {
            assert!(of_kind(&docs, "Secret").is_empty(), "an existing Secret is not made");
            let admin_service = services.iter().find(|s| s["metadata"]["name"].as_str().unwrap().ends_with("-admin")).unwrap();
            let monitor = of_kind(&docs, "ServiceMonitor")[0];
            assert!(selects(&monitor["spec"]["selector"]["matchLabels"], &admin_service["metadata"]["labels"]));
            assert_eq!(monitor["spec"]["endpoints"][0]["port"], "admin");
            let rule = of_kind(&docs, "PrometheusRule")[0];
            let alerts = std::fs::read_to_string(chart().join("files/alerts.yaml")).unwrap();
            let alerts: Value = serde_norway::from_str(&alerts).unwrap();
            assert_eq!(rule["spec"]["groups"], alerts["groups"], "the rules promtool tests");
            let ingress = of_kind(&docs, "Ingress")[0];
            let backend = &ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"];
            assert_eq!(backend["name"], services[0]["metadata"]["name"]);
            assert!(config.contains("cert_file: /etc/portcullis/tls/tls.crt"), "{config}");
            let policy = of_kind(&docs, "NetworkPolicy")[0];
            assert!(selects(&policy["spec"]["podSelector"]["matchLabels"], labels));
        }
        // The config the chart renders is one the gateway takes.
        if values != Some("ci/tls-ingress.yaml") {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("portcullis.yaml");
            std::fs::write(&file, config).unwrap();
            let o = Command::new(bin())
                .args(["check-config", "--config"])
                .arg(&file)
                .env("PORTCULLIS_OAUTH_GOOGLE_SECRET", "x")
                .output()
                .unwrap();
            assert!(o.status.success(), "{at}: {}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        }
    }
}

#[test]
fn the_chart_refuses_several_replicas_on_sqlite_and_rolls_pods_on_a_config_change() {
    if crate::ON_POSTGRES {
        return;
    }
    let Some(helm) = tool("helm") else {
        return;
    };
    for sets in [
        &["replicaCount=2"][..],
        &["autoscaling.enabled=true"],
        &["replicaCount=3", "database.kind=sqlite"],
    ] {
        let e = render(&helm, None, sets).unwrap_err();
        assert!(e.contains("Set database.kind: postgres and the PostgreSQL URL"), "{sets:?}: {e}");
    }
    let e = render(&helm, None, &["database.kind=postgres"]).unwrap_err();
    assert!(e.contains("needs the URL"), "{e}");
    let e = render(&helm, None, &["tls.enabled=true"]).unwrap_err();
    assert!(e.contains("tls.secretName"), "{e}");
    let checksum = |sets: &[&str]| {
        let docs = documents(&render(&helm, None, sets).unwrap());
        of_kind(&docs, "Deployment")[0]["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(checksum(&[]), checksum(&[]));
    assert_ne!(checksum(&[]), checksum(&["config.pages.product_name=Acme"]));
}

#[tokio::test]
async fn the_probes_paths_answer_on_the_real_binary() {
    if crate::ON_POSTGRES {
        return;
    }
    let Some(helm) = tool("helm") else {
        return;
    };
    let docs = documents(&render(&helm, None, &[]).unwrap());
    let c = &of_kind(&docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0];
    let (_up, g) = start().await;
    for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
        let path = c[probe]["httpGet"]["path"].as_str().unwrap();
        let r = g.admin_get(path).await;
        assert_eq!(r.status(), 200, "{probe} {path}");
    }
}

#[test]
fn the_alerts_pass_promtool_and_each_fires_in_its_unit_test() {
    if crate::ON_POSTGRES {
        return;
    }
    let Some(promtool) = tool("promtool") else {
        return;
    };
    for args in [
        ["check", "rules", "files/alerts.yaml"],
        ["test", "rules", "tests/alerts_test.yaml"],
    ] {
        let o = Command::new(&promtool).current_dir(chart()).args(args).output().unwrap();
        assert!(o.status.success(), "promtool {args:?}:\n{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    }
}
