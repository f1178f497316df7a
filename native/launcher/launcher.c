/*
 * virtiofsd-ts: the executable users, libvirt and Kata run (docs/sandbox.md, "Start-up").
 *
 *   virtiofsd-ts ARGS  →  node dist/cli/virtiofsd.cjs ARGS, Node booted once
 *
 * QEMU cannot finish realizing vhost-user-fs-pci until the daemon answers its first message, so
 * every millisecond here delays a pod. Node cannot enter new mount and pid namespaces itself (it
 * is multi-threaded from its first instruction), and before this launcher the daemon booted Node
 * twice: once to parse the command line, once more inside the namespaces. The launcher decides
 * before Node runs:
 *
 *   - when the command line certainly selects the default namespace sandbox (see
 *     certainly_namespace below), it becomes the supervisor (supervise.c): clones a child into
 *     new namespaces and runs Node there, which parses the same command line, creates the socket
 *     in the namespace's copy of the host's mounts (the same file systems: visible outside) and
 *     reports it; Node then pivots into the share itself;
 *   - otherwise (another sandbox, --mount, an unusual spelling, or no privilege to create
 *     namespaces) it execs Node in place, which decides as before — for an unusual spelling of
 *     the namespace sandbox, through vfs-supervisor and a second Node start.
 *
 * Node: $VIRTIOFSD_TS_NODE, else `node` from PATH (what the #! line of dist/cli/virtiofsd.js
 * runs). The script: $VIRTIOFSD_TS_SCRIPT, else ../../dist/cli/virtiofsd.cjs from this
 * executable (build/Release/). NODE_EXTRA_CA_CERTS is dropped from Node's environment: the
 * daemon makes no TLS connection, and Node 20 parses that whole file before any JavaScript runs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervise.h"

extern char** environ;

/*
 * True when Node's parse of argv will certainly choose --sandbox=namespace: no token mentions
 * "sandbox" other than exactly `--sandbox=namespace` or `--sandbox namespace`, and none is
 * `--mount`, which serves on the host without a sandbox. Conservative by design: a share path
 * containing "sandbox" merely takes the slower path. Node checks the outcome (stage.ts): a
 * launcher that guessed wrong is an error there, never a daemon in the wrong sandbox.
 */
static int certainly_namespace(int argc, char** argv) {
  for (int i = 1; i < argc; i++) {
    const char* a = argv[i];
    if (strcmp(a, "--mount") == 0 || strncmp(a, "--mount=", 8) == 0) return 0;
    /* Nothing to serve: no namespaces to make (and no way for them to fail). */
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0 || strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0 ||
        strcmp(a, "--print-capabilities") == 0) {
      return 0;
    }
    if (strstr(a, "sandbox") == NULL) continue;
    if (strcmp(a, "--sandbox=namespace") == 0) continue;
    if (strcmp(a, "--sandbox") == 0 && i + 1 < argc && strcmp(argv[i + 1], "namespace") == 0) {
      i++;
      continue;
    }
    return 0;
  }
  return 1;
}

/* ../../dist/cli/virtiofsd.cjs from this executable's directory, or NULL. */
static char* default_script(void) {
  static char path[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (n <= 0) return NULL;
  path[n] = '\0';
  for (int up = 0; up < 3; up++) {
    char* slash = strrchr(path, '/');
    if (slash == NULL) return NULL;
    *slash = '\0';
  }
  static const char tail[] = "/dist/cli/virtiofsd.cjs";
  if (strlen(path) + sizeof(tail) > sizeof(path)) return NULL;
  strcat(path, tail);
  return path;
}

/* What Node must not inherit: the CA bundle (see the top), and the two variables that tell
 * Node how the sandbox started it — only the launcher (supervise.c) and the two-boot fallback
 * (src/daemon/supervisor.ts) set those, never whoever runs us. */
static int dropped(const char* entry) {
  static const char* const names[] = {"NODE_EXTRA_CA_CERTS=", "VIRTIOFSD_TS_SANDBOX_STAGE=", LAUNCHED_ENV "="};
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    if (strncmp(entry, names[i], strlen(names[i])) == 0) return 1;
  }
  return 0;
}

static char** node_environment(void) {
  size_t n = 0;
  while (environ[n]) n++;
  char** out = calloc(n + 1, sizeof(char*));
  if (out == NULL) return NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (!dropped(environ[i])) out[k++] = environ[i];
  }
  return out;
}

int main(int argc, char** argv) {
  /* secure_getenv: never from the environment of a set-user-ID or file-capability start (this
   * program must be neither; it runs with the privileges of whoever starts it). */
  const char* node = secure_getenv("VIRTIOFSD_TS_NODE");
  const char* script = secure_getenv("VIRTIOFSD_TS_SCRIPT");
  if (node == NULL || node[0] == '\0') node = "node";
  if (script == NULL || script[0] == '\0') script = default_script();
  if (script == NULL) {
    say("cannot find dist/cli/virtiofsd.cjs next to ", "this executable (set VIRTIOFSD_TS_SCRIPT)", NULL);
    return 1;
  }
  char** env = node_environment();
  char** child = calloc((size_t)argc + 2, sizeof(char*));
  if (env == NULL || child == NULL) {
    say("out of memory", NULL, NULL);
    return 1;
  }
  child[0] = (char*)node;
  child[1] = (char*)script;
  for (int i = 1; i < argc; i++) child[i + 1] = argv[i];

  if (certainly_namespace(argc, argv)) {
    struct supervise_options opts = {child, env, NULL, 1};
    int code = supervise(&opts, 1);
    if (code >= 0) return code;
    /* No privilege for namespaces: Node parses the command line and says what is missing. */
  }
  execvpe(node, child, env);
  say("cannot run ", node, errno == ENOENT ? ": not found (install Node.js >= 20 or set VIRTIOFSD_TS_NODE)" : ": exec failed");
  return 127;
}
