#pragma once

// The Kubernetes target: a Strand cluster deployed by deploy/kubernetes (two StatefulSets,
// strand-controller and strand-broker, behind the headless Services of the same names), reached
// through kubectl. docs/drills-kubernetes.md is the operator's guide; in short:
//
//   nodes      `kubectl get pods --selector SELECTOR -o json`: a pod's role from its label
//              app.kubernetes.io/component, its node id as the manifests compute it
//              (strand.node.id.base + the pod's index: controllers 1.., brokers 100..), its
//              address the pod's stable DNS name under its headless Service
//              (<pod>.<service>.<namespace>.svc.cluster.local) with the broker's client port or
//              the controller's controller port. The drill must run where those names resolve
//              and those ports are reachable: inside the cluster, or on a network that routes to
//              the pods and resolves the cluster's DNS.
//   Kill       `kubectl delete pod NAME --grace-period=0 --force --wait=false`, then waits until
//              the pod's UID changed or it is gone.
//   Stop       a PodDisruptionBudget-respecting eviction, `kubectl create --raw
//              /api/v1/namespaces/NS/pods/NAME/eviction -f -` (a policy/v1 Eviction on stdin);
//              a budget's refusal (429) is UNAVAILABLE. Then waits for the old pod to go.
//   Start      the StatefulSet recreates the pod: waits for a pod of that name with a new UID,
//              then `kubectl wait --for=condition=Ready pod/NAME --timeout=...`.
//   Pause      `kubectl exec -c strand NAME -- kill -STOP 1` (and -CONT for Resume);
//              UNIMPLEMENTED when the image has no kill executable or the stop did not take.
//   Cut ...    `kubectl exec -c strand NAME -- nft ...`, the rules of nft_rules.h against the
//              peers' pod IPs; UNIMPLEMENTED unless `nft --version` runs in the pod.
//   Running    the pod's phase is Running and it is not being deleted; Incarnation its UID.
//
// Every kubectl command starts `kubectl [--context CTX] --namespace NS`. Threading: one drill
// thread calls the faults; Running may be called from others (the pod list it reads is cached
// for poll_interval under a mutex).

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "tools/drill/kubectl_runner.h"
#include "tools/drill/target.h"

namespace strand::drill {

struct KubernetesTargetOptions {
  std::string kubernetes_namespace;  // --namespace: where the StatefulSets run (required)
  std::string kubectl = "kubectl";   // a path, or a name looked up on $PATH
  std::string context;               // --context of the kubeconfig; "" for its current one
  // A client properties file (security.protocol, ssl.*) for the drill's clients, as the CLI's
  // --command-config: needed for the prod overlay's mTLS listeners. "" for plaintext.
  std::string command_config;
  // The cluster's pods; a pod's role is its app.kubernetes.io/component label.
  std::string selector = "app.kubernetes.io/name=strand";
  // strand.node.id.base of each role (base/controller.properties, base/broker.properties).
  int controller_id_base = 1;
  int broker_id_base = 100;
  std::string cluster_domain = "cluster.local";
  std::string container = "strand";  // the server's container in each pod (kubectl exec -c)
  // Bounds. One kubectl command (a `kubectl wait` gets its own --timeout on top of this).
  std::chrono::milliseconds command_timeout{60'000};
  // Between two reads of the pod list while waiting; also how old a list Running may use.
  std::chrono::milliseconds poll_interval{1'000};
  // Kill: until the force-deleted pod object is gone. Stop waits its grace plus gone_margin.
  std::chrono::milliseconds kill_gone_timeout{60'000};
  std::chrono::milliseconds gone_margin{30'000};
  // Start: until the recreated pod is Ready (the startup probe allows 10 minutes).
  std::chrono::milliseconds start_timeout{600'000};
  // Runs kubectl; null: fork and exec it (MakeProcessKubectlRunner).
  std::shared_ptr<KubectlRunner> runner;
};

// Lists the pods and checks them: at least one broker, unique node ids, every pod Running (a
// drill starts from a whole cluster) and managed by a StatefulSet (else nothing would recreate
// it after a fault). Errors name the kubectl command and what it printed.
absl::StatusOr<std::unique_ptr<Target>> OpenKubernetesTarget(
    const KubernetesTargetOptions& options);

}  // namespace strand::drill
