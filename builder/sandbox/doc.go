// Package sandbox runs one command in a fresh, throw-away containerd
// container and reports how it ended. The builder uses it to run cargo on
// untrusted crates: no network, a read-only view of the host with its
// secrets hidden, writable only where the job's own directories are, as an
// unprivileged user with nothing to gain, with memory, pid and CPU limits.
//
// # Nothing to gain
//
// A task runs as the Task's own user and group (never root), with every
// capability dropped (the bounding set too, so no setuid program can bring
// one back), no_new_privs, containerd's default seccomp profile (no new
// user namespaces, no keyctl, no bpf, no mount) less io_uring, in a
// cgroup namespace of its own, without swap where the host's cgroups can
// limit it, without core dumps. Its TCP buffers are bounded by its memory
// limit on cgroup v2, and beside it on v1 (tcpmem.go). Every writable mount is nosuid and nodev; so is the host
// root. runc's masked and read-only /proc and /sys paths stay as
// containerd's default spec has them. The user owns nothing on the host but
// what its caller gave it: a job's writable directories.
//
// # Hidden paths
//
// The host root shows everything readable by all, which includes
// credentials an operator left readable, other jobs' directories and
// daemons' state. DefaultHidden and Config.Hide name what tasks must not
// see: each directory is covered by an empty read-only one, each file by
// /dev/null (hidden.go). A task's ReadOnlyDirs and WritableDirs are bound
// after the covers, so a toolchain in a hidden /root or a job dir in a
// hidden work dir is still seen, and the directories on the way to them
// that the user could not pass through are covered the same way.
//
// # Why the host root, read-only, and no image
//
// Builds need the host's toolchains (rustup under /root/.rustup, the C
// toolchain, the vendored crate sources), and shipping those as an image would
// mean rebuilding and unpacking one per toolchain update. So the container has
// no image and no snapshot: its rootfs stays the bundle's empty directory and
// the first mount in the spec binds the host's "/" read-only (recursively, so
// mounts below "/" are read-only too). runc mounts in spec order, so the
// default /proc, /dev, /sys and /run mounts come next and hide the host's;
// then the covers of hidden paths, a tmpfs on /tmp, and the task's read-only
// and writable directories at their host paths, parents first.
// Pointing the rootfs at "/" instead (oci.WithRootFSPath) fails in pivot_root,
// and appending the root bind after the defaults would hide the container's
// own /proc and /dev behind the host's.
//
// # The image root, the second mode
//
// With Config.Rootfs "image:PATH_OR_REF" tasks see an OCI image instead:
// New imports a tarball (an OCI layout or `docker save` archive) into
// containerd, or takes an image already there, and unpacks it once with
// the configured snapshotter. Each task then gets its own snapshot of the
// image, keyed by its ID, which runc remounts read-only once it has made
// the mount points for /tmp and the job's directories (a read-only view
// snapshot would leave it unable to). The writable mounts are the same as
// with the host root; the snapshot is removed with the container.
//
// /tmp is private, a tmpfs of Task.TmpBytes, so concurrent jobs do not see
// each other's files and one cannot fill a disk shared with others. The
// default spec's tmpfs on /run matters more than it looks: /run holds the
// containerd and shim sockets, a unix socket can be connected to through a
// read-only mount, and root in the sandbox must not reach the daemon that
// made it. The default network namespace has only a
// loopback interface, so the job has no network at all.
//
// # Why OOM kills come from events
//
// An exit status of 137 means SIGKILL from anyone: the OOM killer, a timeout,
// or the job itself. And the OOM killer often kills a child (one rustc) while
// cargo survives and exits 101. Only the cgroup knows, and on cgroup v1
// containerd reports it as a /tasks/oom event. Run subscribes before it
// creates the container, waits until the container's own /containers/create
// event arrives (proof the subscription is live before the task starts), and
// after the task exits waits for its /tasks/exit event (the shim publishes an
// OOM as the kernel reports it, before the killed process is reaped), so no
// OOM kill is missed.
//
// # Lifecycle
//
// Every Run creates and deletes its own container, ~0.2 s of overhead that
// buys a clean cgroup, namespace and /tmp per job. A Session spends it once
// for a sequence of tasks, one build attempt's steps: they run as
// processes exec'd into one container whose init only idles, out of their
// reach (box.go), each with the init's process spec (user, capabilities,
// no_new_privs, rlimits) and the container's seccomp, namespaces, cgroup
// and mounts, and with nothing of the task before it still running
// (session.go). A step's OOM kill is an OOM event between its start and
// its exit event.
//
// Teardown always runs with a context of its own, so a cancelled job still leaves nothing behind, and Run
// returns only after all output has been written to the caller's writers. A
// builder that died mid-run leaves containers, running tasks, snapshots and
// FIFO directories behind; Cleanup removes those whose IDs the caller says
// are its own (by its exact ID scheme, not a prefix).
//
// Errors: a failed build is an Exit with a non-zero Code and a nil error. A
// non-nil error means the sandbox failed (it names the step: create
// container, new task, start task, ...), the Task was invalid
// (ErrInvalidTask), or ctx ended (errors.Is with context.Canceled or
// context.DeadlineExceeded).
package sandbox
