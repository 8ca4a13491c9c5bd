// Package auth writes what a NATS deployment of ejecta needs for
// least-privilege access: a nats-server configuration in which every role
// (streams.Roles) is a user with the permissions streams.RolePermissions
// derives from the subject scheme, and one credentials file per role for
// the components that run as it. The files of the roles that publish jobs
// or check what comes back (producer, reporter, uploader, admin) also hold
// the job key (streams.JobKey), never those of builders or viewers.
//
// Users with bcrypt-hashed passwords were chosen over nkeys or JWTs: the
// server configuration stays a plain file any nats-server reads without an
// operator, account resolver or extra tooling; the credentials are two
// environment variables that `ejecta --nats-credentials FILE`, a systemd
// EnvironmentFile= and a compose env_file all read; and the server keeps
// only hashes. Rotating a role's password is `ejecta auth init --force` and
// a server reload; it keeps the job key, which only --new-job-key replaces. Deployments that need per-host revocation or several
// tenants should move to the operator/JWT model; the permission lists carry
// over unchanged.
package auth
