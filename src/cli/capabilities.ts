// `--print-capabilities`: the vhost-user backend capabilities document (QEMU's
// docs/interop/vhost-user.json, "VHostUserBackendCapabilitiesFs") that libvirt reads before
// starting us.
//
// Features libvirt knows for type "fs":
// - "separate-options": we accept the Rust virtiofsd's option format (`--shared-dir D`,
//   `--cache never`, `--sandbox M`, `--log-level debug`); without it libvirt falls back to the C
//   dialect (`-o source=D,cache=none,...`, `-d`), which we also accept. Truly supported.
// - "migrate-precopy": NOT advertised — we implement no vhost-user device-state migration.
// The C virtiofsd prints `{"type": "fs"}`; the Rust one adds both features above.

export interface VhostUserFsCapabilities {
  type: 'fs';
  features: string[];
}

export function capabilities(): VhostUserFsCapabilities {
  return { type: 'fs', features: ['separate-options'] };
}

/** The text `--print-capabilities` writes to stdout (pretty JSON, trailing newline). */
export function capabilitiesJson(): string {
  return JSON.stringify(capabilities(), null, 2) + '\n';
}
