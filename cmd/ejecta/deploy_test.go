package main

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ejecta-build/ejecta/auth"
	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/streams"
)

// shellCommands reads the commands of a markdown file's ```sh blocks:
// continuation lines joined, comments dropped, `a && b` split in two,
// each command split into words (quotes kept together, not expanded).
func shellCommands(t *testing.T, path string) [][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	in := false
	var line string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "```sh"):
			in = true
			continue
		case strings.HasPrefix(l, "```"):
			in = false
			continue
		case !in:
			continue
		}
		if cont, ok := strings.CutSuffix(strings.TrimRight(l, " "), "\\"); ok {
			line += cont + " "
			continue
		}
		line += l
		for _, cmd := range strings.Split(shellWords(line), "\x00&&\x00") {
			if words := strings.Split(strings.Trim(cmd, "\x00"), "\x00"); words[0] != "" {
				out = append(out, words)
			}
		}
		line = ""
	}
	return out
}

// shellWords splits a line into words joined by NUL, dropping a comment.
func shellWords(line string) string {
	var words []string
	var w strings.Builder
	quote := byte(0)
	started := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
			w.WriteByte(c)
		case c == '"' || c == '\'':
			quote, started = c, true
			w.WriteByte(c)
		case c == '#' && !started:
			i = len(line)
		case c == ' ' || c == '\t':
			if started {
				words = append(words, w.String())
				w.Reset()
				started = false
			}
		default:
			w.WriteByte(c)
			started = true
		}
	}
	if started {
		words = append(words, w.String())
	}
	return strings.Join(words, "\x00")
}

// checkEjectaCommand parses args (an `ejecta ...` command without the
// program) as ejecta would: a real subcommand, flags it accepts, the
// required ones given, its arguments valid.
func checkEjectaCommand(args []string) error {
	root := newRootCmd()
	cmd, rest, err := root.Find(args)
	if err != nil {
		return err
	}
	if cmd == root || !cmd.Runnable() {
		return errNotACommand
	}
	if err := cmd.ParseFlags(rest); err != nil {
		return err
	}
	if err := cmd.ValidateRequiredFlags(); err != nil {
		return err
	}
	return cmd.ValidateArgs(cmd.Flags().Args())
}

var errNotACommand = errors.New("not an ejecta command that runs")

// TestDeployGuideCommands checks every command deploy/README.md gives: an
// ejecta command is one the CLI takes as written, a unit it starts is
// one of deploy/systemd, a file it copies or runs is in the checkout, a
// make target exists.
func TestDeployGuideCommands(t *testing.T) {
	repo := testenv.RepoRoot(t)
	makefile, err := os.ReadFile(filepath.Join(repo, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	ejectaCommands := 0
	for _, words := range shellCommands(t, filepath.Join(repo, "deploy", "README.md")) {
		for len(words) > 1 && regexp.MustCompile(`^[A-Z_]+=`).MatchString(words[0]) {
			words = words[1:] // VAR=value before a command
		}
		line := strings.Join(words, " ")
		switch words[0] {
		case "ejecta":
			ejectaCommands++
			if err := checkEjectaCommand(words[1:]); err != nil {
				t.Errorf("deploy/README.md: `%s`: %v", line, err)
			}
		case "systemctl":
			unit := words[len(words)-1]
			file := unit + ".service"
			if base, _, ok := strings.Cut(unit, "@"); ok {
				file = base + "@.service"
			}
			if _, err := os.Stat(filepath.Join(repo, "deploy", "systemd", file)); err != nil {
				t.Errorf("deploy/README.md: `%s`: no deploy/systemd/%s", line, file)
			}
		case "cp":
			for _, w := range words[1:] {
				if strings.HasPrefix(w, "deploy/") {
					if _, err := os.Stat(filepath.Join(repo, w)); err != nil {
						t.Errorf("deploy/README.md: `%s`: %v", line, err)
					}
				}
			}
		case "make":
			for _, target := range words[1:] {
				if !strings.HasPrefix(target, "-") && !regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(target)+`:`).Match(makefile) {
					t.Errorf("deploy/README.md: `%s`: no make target %s", line, target)
				}
			}
		case "deploy/build-env/build.sh":
			for _, w := range words {
				if strings.HasPrefix(w, "deploy/") {
					if _, err := os.Stat(filepath.Join(repo, w)); err != nil {
						t.Errorf("deploy/README.md: `%s`: %v", line, err)
					}
				}
			}
		}
	}
	if ejectaCommands < 8 {
		t.Errorf("deploy/README.md: %d ejecta commands found, want the guide's (is the parser lost?)", ejectaCommands)
	}
}

// unit is a systemd unit file, each key's values in order.
type unit map[string][]string

func readUnit(t *testing.T, path string) unit {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	u := unit{}
	section := ""
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		switch {
		case l == "" || strings.HasPrefix(l, "#"):
		case strings.HasPrefix(l, "["):
			section = strings.Trim(l, "[]")
		default:
			k, v, _ := strings.Cut(l, "=")
			u[section+"."+k] = append(u[section+"."+k], v)
		}
	}
	return u
}

// envVariables are the environment variables ejecta reads: every flag's
// and those without a flag.
func envVariables() []string {
	vars := []string{auth.JobKeyEnv, "EJECTA_S3_ACCESS_KEY", "EJECTA_S3_SECRET_KEY", "EJECTA_NATS_URL"}
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		for _, fs := range []*pflag.FlagSet{c.Flags(), c.PersistentFlags()} {
			fs.VisitAll(func(f *pflag.Flag) { vars = append(vars, envOf(f)) })
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd())
	return vars
}

// The systemd units run real ejecta commands with flags they take, each
// component as its role, restarted when it stops, serving /metrics and
// /readyz, without privileges but the builder; every EJECTA_ variable
// they set is one ejecta reads. systemd-analyze finds nothing to say
// about them.
func TestSystemdUnits(t *testing.T) {
	repo := testenv.RepoRoot(t)
	roles := map[string]streams.Role{
		"ejecta-builder": streams.RoleBuilder, "ejecta-uploader": streams.RoleUploader, "ejecta-reporter": streams.RoleReporter,
		"ejecta-web": streams.RoleViewer, "ejecta-streams-ensure": streams.RoleAdmin,
	}
	known := envVariables()
	units, _ := filepath.Glob(filepath.Join(repo, "deploy", "systemd", "*.service"))
	seen := 0
	for _, path := range units {
		name := strings.TrimSuffix(filepath.Base(path), ".service")
		if !strings.HasPrefix(name, "ejecta-") {
			continue
		}
		seen++
		u := readUnit(t, path)
		role, ok := roles[name]
		if !ok {
			t.Errorf("%s: no role known for this unit", name)
			continue
		}
		start := u["Service.ExecStart"]
		if len(start) != 1 {
			t.Errorf("%s: ExecStart %q, want one", name, start)
			continue
		}
		words := strings.Fields(strings.ReplaceAll(start[0], "${CREDENTIALS_DIRECTORY}", "/run/credentials/"+name))
		if words[0] != "/usr/local/bin/ejecta" {
			t.Errorf("%s: runs %s, want /usr/local/bin/ejecta", name, words[0])
		}
		if err := checkEjectaCommand(words[1:]); err != nil {
			t.Errorf("%s: `%s`: %v", name, start[0], err)
		}
		root := newRootCmd()
		if cmd, _, err := root.Find(words[1:]); err == nil {
			if runs := "ejecta-" + strings.ReplaceAll(strings.TrimPrefix(cmd.CommandPath(), "ejecta "), " ", "-"); runs != name {
				t.Errorf("%s runs `%s`", name, cmd.CommandPath())
			}
		}
		if want := "/etc/ejecta/nats/" + auth.CredentialsFile(role); !slices.Contains(u["Service.EnvironmentFile"], want) {
			t.Errorf("%s: EnvironmentFile %q, want the %s role's %s", name, u["Service.EnvironmentFile"], role, want)
		}
		env := map[string]string{}
		for _, e := range u["Service.Environment"] {
			k, v, _ := strings.Cut(e, "=")
			env[k] = v
			if strings.HasPrefix(k, "EJECTA_") && !slices.Contains(known, k) {
				t.Errorf("%s: Environment=%s: ejecta reads no such variable", name, k)
			}
		}
		if !strings.Contains(env["EJECTA_NATS_URL"], ",") {
			t.Errorf("%s: EJECTA_NATS_URL %q, want every node of the cluster", name, env["EJECTA_NATS_URL"])
		}
		if name == "ejecta-streams-ensure" {
			continue
		}
		if got := u["Service.Restart"]; !slices.Equal(got, []string{"always"}) {
			t.Errorf("%s: Restart=%v, want always", name, got)
		}
		if env["EJECTA_METRICS_ADDR"] != ":9090" {
			t.Errorf("%s: EJECTA_METRICS_ADDR %q, want :9090 (deploy/prometheus scrapes it)", name, env["EJECTA_METRICS_ADDR"])
		}
		if dyn := slices.Equal(u["Service.DynamicUser"], []string{"yes"}); dyn == (name == "ejecta-builder") {
			t.Errorf("%s: DynamicUser=%v; every component but the builder runs without privileges", name, u["Service.DynamicUser"])
		}
	}
	if seen != len(roles) {
		t.Errorf("%d ejecta units in deploy/systemd, want %d", seen, len(roles))
	}

	t.Run("systemd-analyze", func(t *testing.T) {
		analyze, err := exec.LookPath("systemd-analyze")
		if err != nil {
			testenv.Unavailable(t, "systemd-analyze: %v", err)
		}
		// The programs are not installed here: each unit runs /bin/true.
		dir := t.TempDir()
		var files []string
		for _, path := range units {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			data = regexp.MustCompile(`/usr/local/bin/(ejecta|nats-server)`).ReplaceAll(data, []byte("/bin/true"))
			file := filepath.Join(dir, filepath.Base(path))
			if err := os.WriteFile(file, data, 0o644); err != nil {
				t.Fatal(err)
			}
			files = append(files, file)
		}
		cmd := exec.Command(analyze, append([]string{"verify"}, files...)...)
		cmd.Env = append(os.Environ(), "SYSTEMD_LOG_LEVEL=notice")
		out, err := cmd.CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	})
}
