package route

// Config is one node of the route tree.
type Config struct {
	// ID names the route in metrics (route_matched_total{route}) so the
	// label stays when routes are inserted; without it the label is the
	// route's path (route.routes[2]). Not "name": in a rule that matches
	// the object's name.
	ID     string   `yaml:"id"`
	Drop   []Rule   `yaml:"drop"`
	Match  []Rule   `yaml:"match"`
	Routes []Config `yaml:"routes"`
}

// Rule ANDs its fields. Strings are Go regular expressions matched
// unanchored, as in kubernetes-event-exporter.
type Rule struct {
	Message     string            `yaml:"message"`
	APIVersion  string            `yaml:"apiVersion"`
	Kind        string            `yaml:"kind"`
	Namespace   string            `yaml:"namespace"`
	Reason      string            `yaml:"reason"`
	Type        string            `yaml:"type"`
	Component   string            `yaml:"component"`
	Host        string            `yaml:"host"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
	MinCount    int32             `yaml:"minCount"`
	Receiver    string            `yaml:"receiver"`
	// eventide additions
	Name            string `yaml:"name"`            // involved object's name
	ObjectNamespace string `yaml:"objectNamespace"` // involved object's namespace
	WorkloadKind    string `yaml:"workloadKind"`    // top controller's kind
	WorkloadName    string `yaml:"workloadName"`    // top controller's name
	Not             *Rule  `yaml:"not"`             // must not match
	// Class matches the event's class (CrashLoop, Unschedulable, …);
	// kube-eventer's names (PodCrash, …) are read as the classes they
	// map to. ClassDetail matches its detail ("insufficient cpu").
	Class       string `yaml:"class"`
	ClassDetail string `yaml:"classDetail"`
	// Service matches any one of the Services selecting the object
	// (enrich.services).
	Service string `yaml:"service"`
	// Preset is a named rule (presets.go: eventarbiter's alarms), ANDed
	// with the rule's other fields.
	Preset string `yaml:"preset"`
}
