package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// newHealthcheckCmd is a probe for images that have no curl or wget (the
// ejecta image is the binary and CA certificates alone): compose's and
// Kubernetes' exec probes run `ejecta healthcheck http://127.0.0.1:9090/readyz`.
func newHealthcheckCmd() *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "healthcheck URL",
		Short: "Exit 0 if URL (a component's /readyz or /healthz) answers 200, else 1",
		Long: `Exit 0 if URL answers 200, else print the answer and exit 1.

Every component serving --metrics-addr answers /healthz (the process serves)
and /readyz (it can work: NATS, its streams, its store or containerd).`,
		Example: `  ejecta healthcheck http://127.0.0.1:9090/readyz`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, args[0], nil)
			if err != nil {
				return badInput(fmt.Errorf("healthcheck %s: %w", args[0], err))
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return fmt.Errorf("healthcheck: %w", err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("healthcheck %s: %s: %s", args[0], resp.Status, strings.TrimSpace(string(body)))
			}
			fmt.Fprint(cmd.OutOrStdout(), string(body))
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "give up after this long")
	return cmd
}
