//! The worker Pod of a SyncTask: one per task, owned by it, running `ferry worker --task NS/NAME`
//! under the restricted Pod Security profile, credentials by Secret reference only.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::core::v1::{
        Capabilities, Container, ContainerPort, EnvVar, EnvVarSource, Pod, PodSecurityContext, PodSpec, SeccompProfile, SecretKeySelector,
        SecurityContext,
    },
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};
use kube::{Resource, ResourceExt};

use crate::api::{SyncTask, secret_env_var};

/// Label naming the task a worker Pod belongs to.
pub const TASK_LABEL: &str = "ferry.dev/task";
/// Annotation with the task generation the Pod was built for.
pub const GENERATION_ANNOTATION: &str = "ferry.dev/generation";
/// Label every worker Pod carries.
pub const COMPONENT: (&str, &str) = ("app.kubernetes.io/component", "worker");

/// Name of the worker Pod of the task named `task`.
pub fn pod_name(task: &str) -> String {
    format!("{task}-worker")
}

/// The worker Pod for `task`, run from `image` as the service account `service_account`.
pub fn build(task: &SyncTask, image: &str, service_account: &str) -> Pod {
    let name = task.name_any();
    let namespace = task.namespace().unwrap_or_else(|| "default".into());
    let worker = task.spec.worker.clone().unwrap_or_default();
    let labels = BTreeMap::from([
        ("app.kubernetes.io/name".to_string(), "ferry".to_string()),
        (COMPONENT.0.to_string(), COMPONENT.1.to_string()),
        ("app.kubernetes.io/managed-by".to_string(), "ferry-operator".to_string()),
        (TASK_LABEL.to_string(), name.clone()),
    ]);
    let annotations = BTreeMap::from([(GENERATION_ANNOTATION.to_string(), task.metadata.generation.unwrap_or(0).to_string())]);
    Pod {
        metadata: ObjectMeta {
            name: Some(pod_name(&name)),
            namespace: Some(namespace.clone()),
            labels: Some(labels),
            annotations: Some(annotations),
            owner_references: task.controller_owner_ref(&()).map(|o| vec![o]),
            ..Default::default()
        },
        spec: Some(PodSpec {
            restart_policy: Some("Never".into()),
            service_account_name: Some(service_account.to_string()),
            automount_service_account_token: Some(true),
            node_selector: worker.node_selector.clone(),
            tolerations: worker.tolerations.clone(),
            termination_grace_period_seconds: Some(60),
            security_context: Some(PodSecurityContext {
                run_as_non_root: Some(true),
                run_as_user: Some(65532),
                run_as_group: Some(65532),
                seccomp_profile: Some(SeccompProfile {
                    type_: "RuntimeDefault".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            containers: vec![Container {
                name: "worker".into(),
                image: Some(worker.image.clone().unwrap_or_else(|| image.to_string())),
                command: Some(vec!["ferry".into()]),
                args: Some(vec!["worker".into(), "--task".into(), format!("{namespace}/{name}")]),
                env: Some(env(task)),
                ports: Some(vec![ContainerPort {
                    name: Some("metrics".into()),
                    container_port: 9187,
                    ..Default::default()
                }]),
                resources: worker.resources.clone(),
                security_context: Some(SecurityContext {
                    allow_privilege_escalation: Some(false),
                    read_only_root_filesystem: Some(true),
                    run_as_non_root: Some(true),
                    capabilities: Some(Capabilities {
                        drop: Some(vec!["ALL".into()]),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        status: None,
    }
}

/// The worker's environment: log level, and every credential as a `secretKeyRef`, so the
/// kubelet hands the worker its Secrets and neither the operator nor the worker needs to read
/// Secrets through the API.
fn env(task: &SyncTask) -> Vec<EnvVar> {
    let mut env = vec![EnvVar {
        name: "RUST_LOG".into(),
        value: Some("info".into()),
        ..Default::default()
    }];
    let spec = &task.spec;
    let mut refs: Vec<(&str, &str)> = Vec::new();
    for secret in [&spec.source.credentials_secret, &spec.destination.credentials_secret] {
        refs.push((&secret.name, "username"));
        refs.push((&secret.name, "password"));
    }
    for tls in [spec.source.tls.as_ref(), spec.destination.tls.as_ref()].into_iter().flatten() {
        if let Some(ca) = &tls.ca_secret {
            refs.push((&ca.name, "ca.crt"));
        }
    }
    refs.sort_unstable();
    refs.dedup();
    for (name, key) in refs {
        env.push(EnvVar {
            name: secret_env_var(name, key),
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: name.to_string(),
                    key: key.to_string(),
                    optional: Some(false),
                }),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    env
}

/// The task generation a Pod was built for.
pub fn generation_of(pod: &Pod) -> Option<i64> {
    pod.annotations().get(GENERATION_ANNOTATION).and_then(|g| g.parse().ok())
}

/// The exit code of the worker container, once it has terminated.
pub fn exit_code(pod: &Pod) -> Option<i32> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .find(|c| c.name == "worker")?
        .state
        .as_ref()?
        .terminated
        .as_ref()
        .map(|t| t.exit_code)
}

/// Whether `pod` belongs to `task` (same name and a controller reference to it).
pub fn owned_by(pod: &Pod, task: &SyncTask) -> bool {
    let uid = task.meta().uid.as_deref();
    pod.owner_references()
        .iter()
        .any(|o| o.controller == Some(true) && Some(o.uid.as_str()) == uid)
}
