// Package workspace is one attempt's job dir: the only place a build may
// write, laid out and owned so that no build can plant anything where the
// builder or cargo would read it, and touched by the builder only through
// an os.Root on it, and only before the first step that runs crate code
// (Workspace). It copies crates into it (CopyCrate), rewrites their
// manifests for resolution (RegistryOnly, TrimForResolution), measures it
// against the job disk quota (DiskUsed), and removes job dirs however deep
// a build made them (RemoveTree).
package workspace
