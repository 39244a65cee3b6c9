# The fleet's resources, as manifests on stdout (sourced by run.sh): three Nodes with their
# underlay and WireGuard addresses, one workload per host, a namespace profile, a policy that
# lets only "frontend" workloads reach "api" ones on 8080, and a staged policy (enforced by no
# one; flow logs show the verdict it would give) that would refuse batch workloads at the api.
nodes_and_workloads() {
  for n in 1 2 3; do
    app=$([ "$n" = 2 ] && echo api || ([ "$n" = 1 ] && echo frontend || echo batch))
    cat <<YAML
---
apiVersion: projectcalico.org/v3
kind: Node
metadata: {name: vm-$n}
spec:
  bgp: {ipv4Address: 192.168.77.1$n/24}
  wireguard: {interfaceIPv4Address: 10.99.0.$n}
---
apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata: {name: vm-$n-wl, namespace: demo, labels: {app: $app}}
spec: {node: vm-$n, orchestrator: bare, workload: wl, endpoint: eth0, interfaceName: caliwl0, ipNetworks: [10.70.$n.2/32], profiles: [kns.demo]}
YAML
  done
  cat <<YAML
---
apiVersion: projectcalico.org/v3
kind: Profile
metadata: {name: kns.demo}
spec: {ingress: [{action: Allow}], egress: [{action: Allow}]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: api-ingress}
spec:
  selector: app == 'api'
  ingress: [{action: Allow, protocol: TCP, source: {selector: app == 'frontend'}, destination: {ports: [8080]}}]
---
apiVersion: projectcalico.org/v3
kind: StagedGlobalNetworkPolicy
metadata: {name: api-deny-batch}
spec:
  stagedAction: Set
  order: 10
  selector: app == 'api'
  types: [Ingress]
  ingress: [{action: Deny, source: {selector: app == 'batch'}}]
YAML
}

# The change the demo applies: batch workloads may reach the api too.
policy_change() {
  cat <<YAML
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: api-ingress}
spec:
  selector: app == 'api'
  ingress: [{action: Allow, protocol: TCP, source: {selector: "app in {'frontend', 'batch'}"}, destination: {ports: [8080]}}]
YAML
}

# The third step: the security team quarantines batch workloads fleet-wide. Its tier runs before
# `default`; every workload on every VM gets an ingress rule that refuses batch and passes the
# rest on.
quarantine_batch() {
  cat <<YAML
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec: {order: 100, defaultAction: Deny}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: security.quarantine-batch}
spec:
  tier: security
  selector: all()
  types: [Ingress]
  ingress: [{action: Deny, source: {selector: app == 'batch'}}, {action: Pass}]
YAML
}
