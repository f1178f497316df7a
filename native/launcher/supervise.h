/*
 * The supervisor of a namespace-sandboxed virtiofsd-ts (docs/sandbox.md): the small C parent
 * that stays outside the namespaces while the one Node process serves inside them. Used by both
 * executables:
 *
 *   virtiofsd-ts     the launcher (launcher.c): the command users and Kata run; when the
 *                    default namespace sandbox is certain it supervises Node directly, so Node
 *                    boots once;
 *   vfs-supervisor   (vfs_supervisor.c) what a Node process started some other way execs
 *                    into once it has parsed --sandbox=namespace (the two-boot fallback).
 */
#ifndef VFS_SUPERVISE_H
#define VFS_SUPERVISE_H

#define PROGRAM "virtiofsd-ts"

/* The child's environment variable naming the descriptor it reports to (see supervise()). */
#define LAUNCHED_ENV "VIRTIOFSD_TS_LAUNCHED"

struct supervise_options {
  /* The child's program (looked up in PATH) and its argv, NULL-terminated. */
  char** argv;
  /* The child's environment, NULL-terminated; with `report`, the child also gets
   * LAUNCHED_ENV=<fd> appended. */
  char** envp;
  /* The --socket-path socket to unlink when the child is gone (the child no longer sees it). */
  const char* unlink_path;
  /* The child reports on a pipe once it listens: "unlink PATH\n" when it created a socket at
   * PATH (unlinked at the end, as unlink_path), then EOF. Until then the supervisor keeps its
   * capabilities, to copy the child's RLIMIT_NOFILE onto itself (the pid the starter knows
   * shows the daemon's limit, as with virtiofsd). */
  int report;
};

/* Writes "virtiofsd-ts: " a b c "\n" to stderr in one write. */
void say(const char* a, const char* b, const char* c);

/*
 * Clones the child into new mount, pid and net namespaces, supervises it and returns the exit
 * code to exit with (or re-raises the signal that killed it). `fallback_on_eperm`: when the
 * clone fails with EPERM, return -1 instead of failing (the launcher then runs Node directly,
 * which explains the missing privilege after it parsed the command line).
 */
int supervise(const struct supervise_options* opts, int fallback_on_eperm);

#endif
