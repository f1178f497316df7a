// Imported first by the bin entry, before any module that takes time to load: Node starts its
// inspector (a debugger port on 127.0.0.1:9229) on SIGUSR1 unless a listener is installed.
// A daemon must never open a debugger on a signal; SIGUSR1 is our statistics dump instead
// (src/daemon/daemon.ts adds the real listener once there is something to report).
process.on('SIGUSR1', () => {});
