// Command observability-check reads otaflow's Grafana dashboard and Prometheus alert rules the way
// Grafana and Prometheus read them, so that a dashboard or a rule that would not load fails the tests
// (test/unit/deploy/observability.test.ts):
//
//	observability-check dashboard <file.json>  strict decoding into Grafana's dashboard schema (the
//	                                           Grafana Foundation SDK), then every panel's query
//	                                           parsed as PromQL
//	observability-check rules <file.yml>       Prometheus' own rule-file loader: the YAML, every
//	                                           expression and template, every label and annotation
//
// It prints "ok" and exits 0 when the file is valid; otherwise it prints each problem and exits 1.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

const usage = "usage: observability-check dashboard <file.json> | rules <file.yml>"

var promql = parser.NewParser(parser.Options{})

// Grafana's variables ($__rate_interval, $__range, ${name}) are not PromQL: each is replaced by a
// duration, which every one of them stands for where otaflow's dashboard uses it.
var grafanaVariable = regexp.MustCompile(`\$\{?\w+\}?`)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	var problems []string
	switch os.Args[1] {
	case "dashboard":
		problems = checkDashboard(os.Args[2])
	case "rules":
		problems = checkRules(os.Args[2])
	default:
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	for _, problem := range problems {
		fmt.Println(problem)
	}
	if len(problems) > 0 {
		os.Exit(1)
	}
	fmt.Println("ok")
}

func checkDashboard(file string) []string {
	raw, err := os.ReadFile(file)
	if err != nil {
		return []string{err.Error()}
	}
	plugins.RegisterDefaultPlugins()
	var board dashboard.Dashboard
	if err := failure(board.UnmarshalJSONStrict(raw)); err != nil {
		return []string{fmt.Sprintf("%s: %v", file, err)}
	}
	if err := failure(board.Validate()); err != nil {
		return []string{fmt.Sprintf("%s: %v", file, err)}
	}
	panels, problems := panelsOf(raw)
	for _, panel := range panels {
		if len(panel.targets) == 0 {
			problems = append(problems, fmt.Sprintf("panel %q has no query", panel.title))
		}
		for _, query := range panel.targets {
			if _, err := promql.ParseExpr(grafanaVariable.ReplaceAllString(query.Expr, "5m")); err != nil {
				problems = append(problems, fmt.Sprintf("panel %q, query %s: %v", panel.title, query.Expr, err))
			}
		}
	}
	for i := range problems {
		problems[i] = fmt.Sprintf("%s: %s", file, problems[i])
	}
	return problems
}

// The SDK returns its error list typed even when it is empty: no error then.
func failure(err error) error {
	var list cog.BuildErrors
	if errors.As(err, &list) && len(list) == 0 {
		return nil
	}
	return err
}

type panelQueries struct {
	title   string
	targets []prometheus.Dataquery
}

// The queries of the dashboard's panels, those inside rows included, each panel and each query
// decoded strictly on its own: the SDK's own decoding of a dashboard drops every panel and query
// whose decoding returned its (typed, empty) error list.
func panelsOf(raw []byte) ([]panelQueries, []string) {
	type rawPanel struct {
		Type    string            `json:"type"`
		Title   string            `json:"title"`
		Targets []json.RawMessage `json:"targets"`
		Panels  []json.RawMessage `json:"panels"`
	}
	var board struct {
		Panels []json.RawMessage `json:"panels"`
	}
	if err := json.Unmarshal(raw, &board); err != nil {
		return nil, []string{err.Error()}
	}
	var panels []panelQueries
	var problems []string
	var visit func(where string, entries []json.RawMessage)
	visit = func(where string, entries []json.RawMessage) {
		for i, entry := range entries {
			at := fmt.Sprintf("%s[%d]", where, i)
			var fields rawPanel
			if err := json.Unmarshal(entry, &fields); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", at, err))
				continue
			}
			if fields.Type == "row" {
				var row dashboard.RowPanel
				if err := failure(row.UnmarshalJSONStrict(entry)); err != nil {
					problems = append(problems, fmt.Sprintf("%s: %v", at, err))
				}
				visit(at+".panels", fields.Panels)
				continue
			}
			var panel dashboard.Panel
			if err := failure(panel.UnmarshalJSONStrict(entry)); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", at, err))
			}
			queries := panelQueries{title: fields.Title}
			for j, target := range fields.Targets {
				var query prometheus.Dataquery
				if err := failure(query.UnmarshalJSONStrict(target)); err != nil {
					problems = append(problems, fmt.Sprintf("%s.targets[%d]: %v", at, j, err))
					continue
				}
				queries.targets = append(queries.targets, query)
			}
			panels = append(panels, queries)
		}
	}
	visit("panels", board.Panels)
	return panels, problems
}

func checkRules(file string) []string {
	_, errs := rulefmt.ParseFile(file, false, model.UTF8Validation, promql, slog.Default())
	problems := make([]string, 0, len(errs))
	for _, err := range errs {
		problems = append(problems, err.Error())
	}
	return problems
}
