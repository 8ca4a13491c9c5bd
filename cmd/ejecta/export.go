package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ejecta-build/ejecta/archive"
	"github.com/ejecta-build/ejecta/craterview"
	"github.com/ejecta-build/ejecta/reporter"
	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

func newExportCmd(g *globals) *cobra.Command {
	var storeURL, dest, format string
	opts := archiveFlags{}
	cmd := &cobra.Command{
		Use:   "export NAME --crater DEST",
		Short: "Write a finished experiment's crater view (results, config, log archives, logs) to DEST",
		Long: `export --crater writes the crater view of a finished experiment under DEST, a directory or
s3://bucket/prefix, laid out as crater's published report: results.json, config.json,
retry-regressed-list.txt, logs-archives/all.tar.zst and one per comparison, and
<toolchain>/reg/<name>-<version>/log.txt for each crate's first run. The reporter keeps the
same view under <exp>/crater/ in the store for experiments it finishes; export is for one
that finished before it did, or for a copy elsewhere. The logs and archives are written
first and results.json last, so that what results.json names is there. Logs are streamed
from the store, checked against their metadata, plain.`,
		Args:              experimentArg("export"),
		ValidArgsFunction: completeExperiments(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(format); err != nil {
				return err
			}
			if dest == "" {
				return badInput(errors.New("--crater: want the destination, a directory or s3://bucket/prefix"))
			}
			o, err := opts.options()
			if err != nil {
				return err
			}
			dst, err := openDestination(cmd.Context(), dest)
			if err != nil {
				return err
			}
			src, err := g.openReaderStore(cmd.Context(), storeURL)
			if err != nil {
				return err
			}
			v, err := exportCrater(cmd.Context(), src, args[0], dst, o)
			if err != nil {
				return archiveError(err)
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				return writeJSON(out, v)
			}
			for _, a := range v.Archives {
				fmt.Fprintf(out, "%-20s %5d crates %6d logs %12d bytes  %s\n", a.Name, a.Crates, a.Logs, a.Bytes, dst.Location(a.Key))
			}
			fmt.Fprintf(out, "%d log.txt, %d bytes\n", v.Logs, v.Bytes)
			fmt.Fprintln(out, dst.Location(craterview.ResultsFile))
			return nil
		},
	}
	readerStoreFlag(cmd.Flags(), &storeURL)
	outputFlag(cmd, &format)
	cmd.Flags().StringVar(&dest, "crater", "", "where to write the crater view: a directory or s3://bucket/prefix")
	bindEnv(cmd.Flags(), "crater", "EJECTA_EXPORT_CRATER")
	opts.register(cmd, "EJECTA_EXPORT_")
	return cmd
}

// openDestination opens export's DEST: a store URL, or a directory, which
// may be relative.
func openDestination(ctx context.Context, dest string) (store.Store, error) {
	if !strings.Contains(dest, "://") && !filepath.IsAbs(dest) {
		abs, err := filepath.Abs(dest)
		if err != nil {
			return nil, badInput(fmt.Errorf("--crater %s: %w", dest, err))
		}
		dest = abs
	}
	st, err := store.Open(ctx, dest)
	if err != nil {
		return nil, badInput(fmt.Errorf("--crater: %w", err))
	}
	return st, nil
}

// exportCrater writes the crater view of experiment exp from src at the
// top of dst: the logs and archives, then config.json,
// retry-regressed-list.txt and results.json.
func exportCrater(ctx context.Context, src store.Store, exp string, dst store.Store, opts archive.Options) (*archive.CraterView, error) {
	rec, err := readExperimentConfig(ctx, src, exp)
	if err != nil {
		return nil, err
	}
	v, err := archive.ExportCrater(ctx, src, exp, dst, "", opts)
	if err != nil {
		return nil, err
	}
	rc, err := src.Get(ctx, results.Key(exp))
	if err != nil {
		return nil, fmt.Errorf("experiment %s: %w", exp, err)
	}
	defer rc.Close()
	put := store.StartPut(ctx, dst, craterview.ResultsFile, "application/json")
	head, retry, err := craterview.WriteResults(put, rc, rec.Toolchains)
	if err == nil && head.Experiment != exp {
		err = fmt.Errorf("%s names experiment %q", src.Location(results.Key(exp)), head.Experiment)
	}
	if err != nil {
		put.Finish(ctx, err)
		return nil, fmt.Errorf("experiment %s: %w", exp, err)
	}
	// Export takes finished experiments only (archive.ExportCrater
	// refused any other): completed, when the final report was written.
	cfg, err := craterview.Config(rec, craterview.Ended{Ended: true, At: head.Updated})
	if err != nil {
		put.Finish(ctx, err)
		return nil, err
	}
	for _, f := range []struct {
		key, contentType string
		data             []byte
	}{
		{craterview.ConfigFile, "application/json", cfg},
		{craterview.RetryListFile, "text/plain; charset=utf-8", retry},
	} {
		if err := dst.Put(ctx, f.key, bytes.NewReader(f.data), int64(len(f.data)), f.contentType); err != nil {
			put.Finish(ctx, err)
			return nil, fmt.Errorf("export %s: %w", dst.Location(f.key), err)
		}
	}
	if err := put.Finish(ctx, nil); err != nil {
		return nil, fmt.Errorf("export %s: %w", dst.Location(craterview.ResultsFile), err)
	}
	return v, nil
}

// readExperimentConfig reads the record of experiment exp from its
// config.json in st, which the reporter wrote when it first saw it.
func readExperimentConfig(ctx context.Context, st store.Store, exp string) (*streams.Experiment, error) {
	key := streams.ExperimentPrefix(exp) + "config.json"
	rc, err := st.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("experiment %q: no config.json at %s: %w", exp, st.Location(key), archive.ErrUnknownExperiment)
	}
	if err != nil {
		return nil, fmt.Errorf("experiment %s: %w", exp, err)
	}
	defer rc.Close()
	var cfg reporter.ConfigFile
	if err := json.NewDecoder(io.LimitReader(rc, 1<<20)).Decode(&cfg); err != nil {
		return nil, fmt.Errorf("read %s: %w", st.Location(key), err)
	}
	if err := cfg.Experiment.Validate(); err != nil {
		return nil, fmt.Errorf("read %s: %w", st.Location(key), err)
	}
	if cfg.Experiment.Name != exp {
		return nil, fmt.Errorf("read %s: names experiment %q", st.Location(key), cfg.Experiment.Name)
	}
	return &cfg.Experiment, nil
}
