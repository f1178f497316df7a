/*
 * vfs-supervisor [--unlink PATH] -- PROGRAM ARG...
 *
 * The two-boot fallback of --sandbox=namespace (docs/sandbox.md): a Node process started some
 * other way than through the launcher (`node dist/cli/virtiofsd.js`, or an unusual --sandbox
 * spelling the launcher leaves to Node) parses the command line, creates the socket and execs
 * this program in its place (same pid: whoever started the daemon keeps signalling and waiting
 * for the pid it knows), which supervises PROGRAM (Node again, the inner stage) in new
 * namespaces.
 */
#include <string.h>

#include "supervise.h"

extern char** environ;

int main(int argc, char** argv) {
  const char* unlink_path = NULL;
  int i = 1;
  while (i < argc && strcmp(argv[i], "--") != 0) {
    if (strcmp(argv[i], "--unlink") == 0 && i + 1 < argc) {
      unlink_path = argv[i + 1];
      i += 2;
    } else {
      say("vfs-supervisor: unexpected argument ", argv[i], NULL);
      return 2;
    }
  }
  if (i + 1 >= argc) {
    say("usage: vfs-supervisor [--unlink PATH] -- PROGRAM ARG...", NULL, NULL);
    return 2;
  }
  struct supervise_options opts = {argv + i + 1, environ, unlink_path, 0};
  return supervise(&opts, 0);
}
