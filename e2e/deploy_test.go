package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"gopkg.in/yaml.v3"

	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/metrics/metricstest"
)

// What deploy/ gives an operator to watch a farm: a Grafana dashboard, and
// Prometheus alert rules with their scrape configuration.
const (
	dashboardFile = "deploy/grafana/ejecta.json"
	alertsFile    = "deploy/prometheus/alerts.yml"
)

// metricName finds the metrics a PromQL expression names: ejecta's own,
// and `up`, which Prometheus makes for every target.
var metricName = regexp.MustCompile(`\b(ejecta_[a-z0-9_]+|up)\b`)

// deployQueries are the PromQL expressions of the dashboard's panels and
// variables, and of the alert rules, by where they are.
func deployQueries(t *testing.T) map[string]string {
	t.Helper()
	root := testenv.RepoRoot(t)
	out := map[string]string{}
	data, err := os.ReadFile(filepath.Join(root, dashboardFile))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name       string `json:"name"`
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	for _, p := range dash.Panels {
		for i, tg := range p.Targets {
			out[dashboardFile+": panel "+p.Title+" #"+string(rune('A'+i))] = tg.Expr
		}
	}
	for _, v := range dash.Templating.List {
		if v.Definition != "" {
			out[dashboardFile+": variable "+v.Name] = v.Definition
		}
	}
	data, err = os.ReadFile(filepath.Join(root, alertsFile))
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(data, &rules); err != nil {
		t.Fatalf("%s: %v", alertsFile, err)
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			out[alertsFile+": "+r.Alert] = r.Expr
		}
	}
	if len(out) < 20 {
		t.Fatalf("only %d queries in %s and %s", len(out), dashboardFile, alertsFile)
	}
	return out
}

// checkDeployMetrics checks that every metric the dashboard and the alert
// rules name is one a running farm serves (fams, scraped from it): a
// renamed metric must not leave a panel empty or an alert silent.
func checkDeployMetrics(t *testing.T, fams metricstest.Families) {
	t.Helper()
	for where, expr := range deployQueries(t) {
		names := metricName.FindAllString(expr, -1)
		if len(names) == 0 {
			t.Errorf("%s: %q names no ejecta metric", where, expr)
		}
		for _, name := range names {
			if name == "up" {
				continue
			}
			if !served(fams, name) {
				t.Errorf("%s: %s is not served by a running farm (%q)", where, name, expr)
			}
		}
	}
}

// served reports whether the scrape has metric name, or name is a
// histogram's _bucket, _sum or _count series.
func served(fams metricstest.Families, name string) bool {
	if fams[name] != nil {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if f := fams[base]; ok && f != nil && f.GetType() == dto.MetricType_HISTOGRAM {
			return true
		}
	}
	return false
}

// The alert rules and the scrape configuration are what Prometheus loads,
// each alert fires on the state it is for and on no farm at rest
// (alerts_test.yml), and every dashboard query is valid PromQL.
func TestAlertRulesAndDashboardQueries(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		testenv.Unavailable(t, "promtool: %v (apt-get install prometheus)", err)
	}
	dir := filepath.Join(testenv.RepoRoot(t), "deploy", "prometheus")
	for _, args := range [][]string{
		{"check", "rules", "alerts.yml"},
		{"test", "rules", "alerts_test.yml"},
		{"check", "config", "--syntax-only", "prometheus.yml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}

	// Each dashboard query as a recording rule, Grafana's variables given
	// values, for promtool to parse.
	var rules []map[string]string
	var wheres []string
	for where, expr := range deployQueries(t) {
		if !strings.HasPrefix(where, dashboardFile) || strings.HasPrefix(expr, "label_values(") {
			continue
		}
		expr = strings.NewReplacer("$__rate_interval", "5m", "$experiment", ".*").Replace(expr)
		rules = append(rules, map[string]string{"record": "dashboard:query", "expr": expr})
		wheres = append(wheres, where)
	}
	slices.Sort(wheres)
	data, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "dashboard.rules.yml")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", file).CombinedOutput(); err != nil {
		t.Errorf("dashboard queries are not all valid PromQL: %v\n%s\nqueries of: %s", err, out, strings.Join(wheres, "\n"))
	}
}
