package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/ejecta-build/ejecta/auth"
	"github.com/ejecta-build/ejecta/producer"
	"github.com/ejecta-build/ejecta/reporter"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// lifecycleCmds are the commands that change an experiment after create.
func lifecycleCmds(g *globals) []*cobra.Command {
	return []*cobra.Command{newExperimentAbortCmd(g), newExperimentRetryCmd(g),
		newExperimentPriorityCmd(g), newExperimentDeleteCmd(g)}
}

// withProducer connects and runs f with a producer; errors in what the
// user asked for exit with code 2. A command that queues jobs (jobs) gives
// the producer the job key, which it must have when it runs as a role.
func withProducer(cmd *cobra.Command, g *globals, format string, jobs bool, f func(*producer.Producer, jetstream.JetStream) (any, func(io.Writer), error)) error {
	if err := checkOutput(format); err != nil {
		return err
	}
	log, err := g.cliLogger("producer")
	if err != nil {
		return err
	}
	var opts []producer.Option
	if jobs {
		key, err := g.auth.jobKey("experiment " + cmd.Name())
		if err != nil {
			return err
		}
		if key.IsZero() {
			log.Warn().Msgf("no job key (%s): the jobs carry no ticket, so their results are not tied to the builders handed them", auth.JobKeyEnv)
		}
		opts = append(opts, producer.WithJobKey(key))
	}
	nc, js, err := g.connect(cmd.Context(), "ejecta-producer", log)
	if err != nil {
		return err
	}
	defer nc.Close()
	v, text, err := f(producer.New(js, log, opts...), js)
	if err != nil {
		if isInputError(err) {
			return badInput(err)
		}
		return err
	}
	if format == "json" {
		return writeJSON(cmd.OutOrStdout(), v)
	}
	text(cmd.OutOrStdout())
	return nil
}

func newExperimentAbortCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "abort NAME",
		Short: "Stop an experiment: remove its queued jobs and stop its running builds",
		Long: `Stop an experiment: its queued jobs are removed, builders stop its running
builds (their logs are kept, no result is recorded), and its report keeps
what it had. An aborted experiment cannot be retried; delete it to reuse
its name.`,
		Args:              experimentArg("experiment abort"),
		ValidArgsFunction: completeExperiments(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withProducer(cmd, g, format, false, func(p *producer.Producer, _ jetstream.JetStream) (any, func(io.Writer), error) {
				out, err := p.Abort(cmd.Context(), args[0])
				return out, func(w io.Writer) {
					if out.Already {
						fmt.Fprintf(w, "experiment %s was already aborted; %d queued jobs removed now\n", args[0], out.Purged)
						return
					}
					fmt.Fprintf(w, "experiment %s aborted: %d queued jobs removed, %d running builds being stopped\n", args[0], out.Purged, out.Running)
				}, err
			})
		},
	}
	outputFlag(cmd, &format)
	return cmd
}

func newExperimentPriorityCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "priority NAME N",
		Short: fmt.Sprintf("Set an experiment's priority (%d to %d): builders take higher priorities' jobs first", streams.MinPriority, streams.MaxPriority),
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 2 {
				return badInput(fmt.Errorf("experiment priority: want NAME and N, have %d arguments", len(args)))
			}
			return badInput(streams.ValidateExperimentName(args[0]))
		},
		Example:           "  ejecta experiment priority beta-check 50",
		ValidArgsFunction: completeExperiments(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := strconv.Atoi(args[1])
			if err != nil {
				return badInput(fmt.Errorf("priority %q: want a whole number from %d to %d", args[1], streams.MinPriority, streams.MaxPriority))
			}
			return withProducer(cmd, g, format, false, func(p *producer.Producer, _ jetstream.JetStream) (any, func(io.Writer), error) {
				exp, err := p.SetPriority(cmd.Context(), args[0], n)
				return exp, func(w io.Writer) { fmt.Fprintf(w, "experiment %s: priority %d\n", exp.Name, exp.Priority) }, err
			})
		},
	}
	outputFlag(cmd, &format)
	return cmd
}

func newExperimentRetryCmd(g *globals) *cobra.Command {
	var format, crates, storeURL string
	var regressed bool
	cmd := &cobra.Command{
		Use:   "retry NAME (--regressed | --crates SPEC)",
		Short: "Build some crates of an experiment again; their new results replace the old ones",
		Long: `Build some crates of an experiment again, on both toolchains. Their new
results replace the earlier ones in the report (a regression among them is
confirmed again); the experiment counts them as not done until then.

--crates SPEC: a,b@1.2.3 (a name without a version: every version of it in the
experiment) or @FILE, one per line, such as the report's retry-regressed-list.txt.
--regressed: the crates of that list, read from the report in --store.`,
		Args:              experimentArg("experiment retry"),
		ValidArgsFunction: completeExperiments(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			if regressed == (crates != "") {
				return badInput(errors.New("experiment retry: want exactly one of --regressed or --crates"))
			}
			var list []producer.Crate
			if !regressed {
				var err error
				if list, err = producer.ParseCrateList(crates); err != nil {
					return badInput(err)
				}
			}
			return withProducer(cmd, g, format, true, func(p *producer.Producer, js jetstream.JetStream) (any, func(io.Writer), error) {
				if regressed {
					var err error
					if list, err = regressedList(cmd.Context(), readerStore(cmd.Context(), js, storeURL), args[0]); err != nil {
						return nil, nil, badInput(err)
					}
				}
				out, err := p.Retry(cmd.Context(), args[0], list)
				return out, func(w io.Writer) {
					fmt.Fprintf(w, "experiment %s: %d crates retried (%d jobs): %s\n", args[0], len(out.Crates), out.Jobs, strings.Join(out.Crates, ", "))
				}, err
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&crates, "crates", "", "crates to build again: a,b@1.2.3 | @FILE")
	f.BoolVar(&regressed, "regressed", false, "build again every crate of the report's retry-regressed-list.txt (regressed, flaky, spurious)")
	bindEnv(f, "crates", "EJECTA_RETRY_CRATES")
	bindEnv(f, "regressed", "EJECTA_RETRY_REGRESSED")
	readerStoreFlag(f, &storeURL)
	outputFlag(cmd, &format)
	return cmd
}

// deleteStored removes experiment exp's objects from the store at flag, or
// the one the farm recorded, and returns where and how many; "" and 0 when
// no store is known. Unlike the reading commands it never falls back to
// the default store: objects are deleted only where the operator or the
// farm said they are.
func deleteStored(ctx context.Context, js jetstream.JetStream, flag, exp string) (string, int, error) {
	url := flag
	if url == "" {
		e, err := lookupEndpoint(ctx, js, streams.EndpointStore)
		if errors.Is(err, streams.ErrNotFound) {
			return "", 0, nil
		}
		if err != nil {
			return "", 0, fmt.Errorf("where the store is (or give --store, or --keep-objects): %w", err)
		}
		url = e.URL
	}
	st, err := openStore(ctx, url)
	if err != nil {
		return "", 0, err
	}
	n, err := producer.DeleteStored(ctx, st, exp)
	return st.Location(strings.TrimSuffix(streams.ExperimentPrefix(exp), "/")), n, err
}

// regressedList reads the crates of exp's retry-regressed-list.txt.
func regressedList(ctx context.Context, storeURL, exp string) ([]producer.Crate, error) {
	st, err := openStore(ctx, storeURL)
	if err != nil {
		return nil, err
	}
	key := reporter.RetryListKey(exp)
	rc, err := st.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("--regressed: no %s in --store (no report yet, or another store)", st.Location(key))
	}
	if err != nil {
		return nil, fmt.Errorf("--regressed: read %s: %w", st.Location(key), err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("--regressed: read %s: %w", st.Location(key), err)
	}
	var items []string
	for line := range strings.Lines(string(data)) {
		line, _, _ = strings.Cut(line, "#")
		if line = strings.TrimSpace(line); line != "" {
			items = append(items, line)
		}
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("--regressed: experiment %s has no regressed crates in its report", exp)
	}
	return producer.ParseCrateList(strings.Join(items, ","))
}

func newExperimentDeleteCmd(g *globals) *cobra.Command {
	var format, storeURL string
	var force, keepObjects bool
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Remove an experiment: its record, what it has on the streams, and its stored logs and reports",
		Long: `Remove an experiment from NATS: its record, progress, queued jobs, and the
results, log chunks, upload requests and dead letters still on the streams;
then every object it has in the store (logs, reports, archives), unless
--keep-objects. The store is --store, else the one the farm recorded; with
neither, the stored objects stay, and the command says so. While builds of
it run it refuses, unless --force: then it is aborted first.`,
		Args:              experimentArg("experiment delete"),
		ValidArgsFunction: completeExperiments(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withProducer(cmd, g, format, false, func(p *producer.Producer, js jetstream.JetStream) (any, func(io.Writer), error) {
				ctx := cmd.Context()
				out, err := p.Delete(ctx, args[0], force)
				if err == nil && !keepObjects {
					out.Store, out.Objects, err = deleteStored(ctx, js, storeURL, args[0])
				}
				return out, func(w io.Writer) {
					fmt.Fprintf(w, "experiment %s deleted", args[0])
					if out.Aborted {
						fmt.Fprint(w, " (aborted first)")
					}
					fmt.Fprintf(w, ": removed %d jobs, %d results, %d log chunks, %d upload requests, %d dead letters\n",
						out.Messages[streams.JobsStream], out.Messages[streams.ResultsStream], out.Messages[streams.LogsStream],
						out.Messages[streams.UploadsStream], out.Messages[streams.DeadStream])
					switch {
					case keepObjects:
						fmt.Fprintln(w, "stored objects kept (--keep-objects)")
					case out.Store == "":
						fmt.Fprintln(w, "stored objects kept: no --store given, and the farm recorded none")
					default:
						fmt.Fprintf(w, "removed %d stored objects from %s\n", out.Objects, out.Store)
					}
				}, err
			})
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "abort running builds first instead of refusing")
	bindEnv(cmd.Flags(), "force", "EJECTA_DELETE_FORCE")
	cmd.Flags().BoolVar(&keepObjects, "keep-objects", false, "keep the experiment's stored logs, reports and archives")
	bindEnv(cmd.Flags(), "keep-objects", "EJECTA_DELETE_KEEP_OBJECTS")
	cmd.Flags().StringVar(&storeURL, "store", "", storeUsage+" (default: the store the farm's reporter and uploaders recorded; with none, stored objects are kept)")
	outputFlag(cmd, &format)
	return cmd
}
